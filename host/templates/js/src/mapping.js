// The feed and its mapping: {"products": [...]} to SnapAct changes.
//
// One change per product; a product that breaks a rule becomes a rejection
// (its id, the JSON path of the offending field, the reason) and the others
// are still delivered. Only a payload that is not a feed at all fails the
// whole call. No host imports here: `adapter.js` passes the host's settings,
// and `node --test` runs this module without a component.
//
// Values are shaped as componentize-js passes WIT values: records with
// camelCase fields, `s64` as BigInt, `option` as `undefined`, variants as
// `{ tag, val }`, enums as their WIT names.

import { I64_MAX, I64_MIN, MoneyError, exponent, toMinor } from './money.js';

export const SETTING_CURRENCY = 'currency';
export const SETTING_LOW_STOCK = 'low_stock_threshold';

const WHOLE = /^[+-]?[0-9]+$/;

/** A whole call failed; `variant` is the WIT `adapter-error` value it is answered with. */
export class Failure {
  constructor(variant) {
    this.variant = variant;
  }
}

export function invalidInput(message, path) {
  return new Failure({ tag: 'invalid-input', val: { message, path } });
}

export function notConfigured(message) {
  return new Failure({ tag: 'not-configured', val: message });
}

/** One product cannot be mapped: it becomes a rejection at `path`. */
class RecordError {
  constructor(path, message) {
    this.path = path;
    this.message = message;
  }
}

function kind(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'boolean':
      return 'a boolean';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    default:
      return 'an object';
  }
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * A field of a parsed object; absent and `null` are both `undefined`. A plain
 * read: none of the feed's field names exists on `Object.prototype`, so a
 * payload cannot reach a prototype member through it, and an own-property
 * check per field costs noticeably in the interpreter the component runs.
 */
function field(o, key) {
  const v = o[key];
  return v === null ? undefined : v;
}

/** A whole number as BigInt, from a safe JSON integer or a string of digits; `undefined` otherwise. */
function whole(v) {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? BigInt(v) : undefined;
  if (typeof v === 'string' && v.length <= 40 && WHOLE.test(v.trim())) {
    const n = BigInt(v.trim());
    return n >= I64_MIN && n <= I64_MAX ? n : undefined;
  }
  return undefined;
}

/**
 * The shop's settings through `get` (the host's `settings.get` in the
 * component, a map in tests); a malformed one is `not-configured`.
 */
export function readSettings(get) {
  const value = (key) => {
    const raw = get(key);
    return typeof raw === 'string' && raw.trim() !== '' ? raw.trim() : undefined;
  };
  let currency = value(SETTING_CURRENCY);
  if (currency !== undefined) {
    if (exponent(currency.toUpperCase()) === undefined) {
      throw notConfigured(
        `setting \`${SETTING_CURRENCY}\` is ${JSON.stringify(currency)}, not an ISO 4217 currency code such as "NGN"`,
      );
    }
    currency = currency.toUpperCase();
  }
  const rawThreshold = value(SETTING_LOW_STOCK);
  let lowStockThreshold;
  if (rawThreshold !== undefined) {
    lowStockThreshold = WHOLE.test(rawThreshold) ? whole(rawThreshold) : undefined;
    if (lowStockThreshold === undefined) {
      throw notConfigured(`setting \`${SETTING_LOW_STOCK}\` must be a whole number, got ${JSON.stringify(rawThreshold)}`);
    }
  }
  return { currency, lowStockThreshold };
}

/** Decode the payload: UTF-8 JSON, or `invalid-input` at `$`. */
export function parse(payload) {
  let text;
  try {
    // `ignoreBOM: false` drops a leading byte order mark, which feeds saved by
    // spreadsheet tools often have.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(payload);
  } catch (e) {
    throw invalidInput('payload is not UTF-8 text', '$');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidInput(`payload is not valid JSON (${e && e.message ? e.message : e})`, '$');
  }
}

/**
 * Map a feed to `{ changes, rejected }`. Not JSON, or no `products` array,
 * throws an `invalid-input` Failure with the JSON path.
 */
export function mapPayload(payload, settings) {
  const doc = parse(payload);
  if (!isObject(doc)) {
    throw invalidInput(`expected a product feed: an object with a \`products\` array, found ${kind(doc)}`, '$');
  }
  const products = field(doc, 'products');
  if (products === undefined) throw invalidInput('missing required field `products`', '$.products');
  if (!Array.isArray(products)) throw invalidInput(`expected an array, found ${kind(products)}`, '$.products');
  const changes = [];
  const rejected = [];
  for (let i = 0; i < products.length; i++) {
    const product = products[i];
    const path = `$.products[${i}]`;
    try {
      changes.push(mapProduct(product, path, settings));
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      rejected.push({ recordId: recordId(product), path: e.path, message: e.message });
    }
  }
  return { changes, rejected };
}

/** The product's id, when it can be read, for its rejection. */
function recordId(product) {
  if (!isObject(product)) return undefined;
  try {
    return id(field(product, 'id'), '');
  } catch (e) {
    return undefined;
  }
}

/** An id as a string, exactly: strings as they are, integers by their digits. */
function id(v, path) {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (Number.isSafeInteger(v)) return String(v);
    throw new RecordError(path, 'the id is an integer above 2^53, which JSON.parse cannot read exactly: send it as a string');
  }
  if (v === undefined) throw new RecordError(path, 'missing required field `id`');
  throw new RecordError(path, `expected an id (a non-empty string or an integer), found ${kind(v)}`);
}

/** One product: an upsert, or a delete when `deleted` is true. */
export function mapProduct(p, path, settings) {
  if (!isObject(p)) throw new RecordError(path, `expected a product object, found ${kind(p)}`);
  const externalRef = id(field(p, 'id'), `${path}.id`);
  const sourceVersion = optString(p, 'updated_at', path);
  const deleted = field(p, 'deleted');
  if (deleted !== undefined && typeof deleted !== 'boolean') {
    throw new RecordError(`${path}.deleted`, `expected true or false, found ${kind(deleted)}`);
  }
  if (deleted === true) return { tag: 'delete', val: { externalRef, sourceVersion } };
  let name = field(p, 'name');
  if (name === undefined) throw new RecordError(`${path}.name`, 'missing required field `name`');
  if (typeof name !== 'string') throw new RecordError(`${path}.name`, `expected a string, found ${kind(name)}`);
  name = name.trim();
  if (name === '') throw new RecordError(`${path}.name`, '`name` is empty: buyers need a name to find the product');
  const price = readPrice(p, path, settings);
  const rawQuantity = field(p, 'quantity');
  const quantity = rawQuantity === undefined ? undefined : readQuantity(rawQuantity, `${path}.quantity`);
  // No fixed price: the buyer agrees it with the shop.
  const availability = price === undefined ? 'on-request' : availabilityFor(quantity, settings.lowStockThreshold);
  return {
    tag: 'upsert',
    val: {
      externalRef,
      name,
      price,
      quantity,
      availability,
      sku: text(p, 'sku', path),
      barcode: text(p, 'barcode', path),
      category: text(p, 'category', path),
      description: text(p, 'description', path),
      imageUrl: text(p, 'image_url', path),
      parentRef: undefined,
      stockKey: undefined,
      sourceVersion,
    },
  };
}

/** `price` as exact minor units; absent or `null` is no fixed price. */
function readPrice(p, path, settings) {
  const value = field(p, 'price');
  if (value === undefined) return undefined;
  if (typeof value !== 'string') {
    throw new RecordError(
      `${path}.price`,
      'expected the price as a decimal string such as "12.50": a JSON number is not exact in every language',
    );
  }
  const currency = readCurrency(p, path, settings);
  let amountMinor;
  try {
    amountMinor = toMinor(value, currency);
  } catch (e) {
    if (e instanceof MoneyError) throw new RecordError(`${path}.price`, e.message);
    throw e;
  }
  if (amountMinor < 0n) throw new RecordError(`${path}.price`, `price ${JSON.stringify(value)} is negative`);
  return { amountMinor, currency };
}

/** The product's `currency`, or the shop's `currency` setting. */
function readCurrency(p, path, settings) {
  const value = field(p, 'currency');
  if (value === undefined) {
    if (settings.currency === undefined) {
      throw new RecordError(
        `${path}.currency`,
        "no currency: give the product a `currency` or set the shop's `currency` setting",
      );
    }
    return settings.currency;
  }
  if (typeof value !== 'string') throw new RecordError(`${path}.currency`, `expected a string, found ${kind(value)}`);
  const code = value.trim().toUpperCase();
  if (exponent(code) === undefined) {
    throw new RecordError(`${path}.currency`, `${JSON.stringify(value.slice(0, 40))} is not an ISO 4217 currency code such as "NGN"`);
  }
  return code;
}

/** A whole number (JSON integer or string of digits); negative stock (oversold) is 0. */
function readQuantity(value, path) {
  const q = whole(value);
  if (q === undefined) {
    throw new RecordError(path, 'expected the quantity as a whole number (or a string of digits) within 64 bits');
  }
  return q < 0n ? 0n : q;
}

/** Untracked (`undefined`) is in stock; zero is out of stock; at or below the threshold is low stock. */
export function availabilityFor(quantity, lowStockThreshold) {
  if (quantity === undefined) return 'in-stock';
  if (quantity <= 0n) return 'out-of-stock';
  if (lowStockThreshold !== undefined && quantity <= lowStockThreshold) return 'low-stock';
  return 'in-stock';
}

function optString(p, key, path) {
  const value = field(p, key);
  if (value !== undefined && typeof value !== 'string') {
    throw new RecordError(`${path}.${key}`, `expected a string, found ${kind(value)}`);
  }
  return value;
}

/** An optional text field; blank is absent. */
function text(p, key, path) {
  const value = optString(p, key, path);
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === '' ? undefined : trimmed;
}
