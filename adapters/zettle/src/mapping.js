// Zettle records -> SnapAct changes. Pure: no imports from the host, so the
// same code runs under `node --test` and inside the component.
//
// Output values are already in the WIT shape componentize-js expects
// (camelCase fields, `s64` as BigInt, `option` as `undefined`).

import { RecordError, invalidInput, rejection } from './errors.js';
import { isObject, key, nonEmptyString, own, parseJson, wholeNumber } from './json.js';
import { isCurrency } from './money.js';
import { availabilityFor } from './settings.js';

/** Where Zettle's image service serves an image by its (deprecated) lookup key, full size. */
const IMAGE_BY_LOOKUP_KEY = 'https://image.izettle.com/productimage/o/';

/** Accumulates changes and per-record rejections. */
export class Outcome {
  constructor() {
    this.changes = [];
    this.rejected = [];
  }
}

function optionalString(o, name, path) {
  const v = own(o, name);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new RecordError(key(path, name), `\`${name}\` must be a string`);
  const t = v.trim();
  return t === '' ? undefined : t;
}

function requiredString(o, name, path, what) {
  const v = own(o, name);
  if (!nonEmptyString(v)) throw new RecordError(key(path, name), `${what} has no \`${name}\` (a non-empty string)`);
  return v.trim();
}

/** The product's fields every variant shares. */
function productCommon(p, path) {
  let category;
  const cat = own(p, 'category');
  if (cat !== undefined && cat !== null) {
    if (!isObject(cat)) throw new RecordError(key(path, 'category'), '`category` must be an object with a `name`');
    category = optionalString(cat, 'name', key(path, 'category'));
  } else {
    // Before September 2020 a product had a list of category names.
    const cats = own(p, 'categories');
    if (Array.isArray(cats) && nonEmptyString(cats[0])) category = cats[0].trim();
  }
  return {
    category,
    description: optionalString(p, 'description', path),
    imageUrl: imageOf(p, path),
    sourceVersion: optionalString(p, 'updated', path) ?? optionalString(p, 'etag', path),
  };
}

function imageOf(o, path) {
  const presentation = own(o, 'presentation');
  if (isObject(presentation)) {
    const url = optionalString(presentation, 'imageUrl', key(path, 'presentation'));
    if (url !== undefined) return url;
  }
  const keys = own(o, 'imageLookupKeys');
  if (Array.isArray(keys) && nonEmptyString(keys[0])) {
    return IMAGE_BY_LOOKUP_KEY + encodeURIComponent(keys[0].trim());
  }
  return undefined;
}

/** `price` -> WIT money, or `undefined` for a product sold at a price entered at the till. */
function priceOf(v, path, currencySetting) {
  const price = own(v, 'price');
  if (price === undefined || price === null) return undefined;
  const pp = key(path, 'price');
  if (!isObject(price)) throw new RecordError(pp, '`price` must be an object with `amount` and `currencyId`');
  const amount = own(price, 'amount');
  if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount < 0) {
    throw new RecordError(
      key(pp, 'amount'),
      `\`amount\` must be a whole, non-negative number of minor units (10000 = 100.00), got ${JSON.stringify(amount) ?? 'nothing'}`,
    );
  }
  const currencyId = own(price, 'currencyId');
  if (typeof currencyId !== 'string' || !isCurrency(currencyId)) {
    throw new RecordError(
      key(pp, 'currencyId'),
      `\`currencyId\` must be an ISO 4217 code such as "GBP", got ${JSON.stringify(currencyId) ?? 'nothing'}`,
    );
  }
  const shop = currencySetting();
  if (currencyId !== shop) {
    throw new RecordError(
      key(pp, 'currencyId'),
      `the price is in ${currencyId} but the shop's \`currency\` setting is ${shop}: prices are never converted; fix the setting or the product`,
    );
  }
  return { amountMinor: BigInt(amount), currency: currencyId };
}

/**
 * One product (a Product Library entity) -> one upsert per variant. A bad
 * product field rejects the product; a bad variant rejects that variant only.
 */
export function mapProduct(p, path, ctx, out) {
  if (!isObject(p)) {
    out.rejected.push(rejection(undefined, path, 'expected a Zettle product (a JSON object)'));
    return;
  }
  const rawId = own(p, 'uuid');
  const productId = nonEmptyString(rawId) ? rawId.trim() : undefined;
  let name;
  let common;
  let variants;
  try {
    requiredString(p, 'uuid', path, 'the product');
    name = requiredString(p, 'name', path, 'the product');
    variants = own(p, 'variants');
    if (!Array.isArray(variants) || variants.length === 0) {
      throw new RecordError(key(path, 'variants'), 'the product has no `variants`: Zettle sells every product as one or more variants');
    }
    common = productCommon(p, path);
  } catch (e) {
    if (!(e instanceof RecordError)) throw e;
    out.rejected.push(rejection(productId, e.path, e.message));
    return;
  }
  const named = variants.length > 1;
  for (let j = 0; j < variants.length; j++) {
    const v = variants[j];
    const vp = path + '.variants[' + j + ']';
    let variantId = productId;
    try {
      if (!isObject(v)) throw new RecordError(vp, 'expected a variant (a JSON object)');
      variantId = requiredString(v, 'uuid', vp, 'the variant');
      const variantName = optionalString(v, 'name', vp);
      const price = priceOf(v, vp, ctx.currency);
      out.changes.push({
        tag: 'upsert',
        val: {
          externalRef: variantId,
          name: named && variantName !== undefined ? `${name} (${variantName})` : name,
          price,
          quantity: undefined,
          // No price: the price is typed in at the till, so the buyer agrees it with the shop.
          availability: price === undefined ? 'on-request' : 'in-stock',
          sku: optionalString(v, 'sku', vp),
          barcode: optionalString(v, 'barcode', vp),
          category: common.category,
          description: optionalString(v, 'description', vp) ?? common.description,
          imageUrl: imageOf(v, vp) ?? common.imageUrl,
          parentRef: productId,
          stockKey: undefined,
          sourceVersion: common.sourceVersion,
        },
      });
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      out.rejected.push(rejection(variantId, e.path, e.message));
    }
  }
}

/** A variant's stock as SnapAct takes it: a negative balance (oversold) is zero on the shelf. */
export function shelfQuantity(balance) {
  return balance < 0 ? 0 : balance;
}

/**
 * Inventory balances -> stock changes for the shop's location. Balances of
 * other locations are skipped, not rejected: they are not this shop's shelf.
 */
export function mapBalances(list, path, ctx, defaults, out) {
  for (let i = 0; i < list.length; i++) {
    const b = list[i];
    const bp = path + '[' + i + ']';
    let variantId;
    try {
      if (!isObject(b)) throw new RecordError(bp, 'expected an inventory balance (a JSON object)');
      variantId = requiredString(b, 'variantUuid', bp, 'the balance');
      const location = optionalString(b, 'locationUuid', bp) ?? defaults.locationUuid;
      const locationType = optionalString(b, 'locationType', bp) ?? defaults.locationType;
      if (ctx.locationUuid !== null) {
        if (location !== undefined && location !== ctx.locationUuid) continue;
      } else if (locationType !== undefined && locationType !== 'STORE') {
        continue;
      }
      const balance = wholeNumber(own(b, 'balance'));
      if (balance === null) {
        throw new RecordError(key(bp, 'balance'), `\`balance\` must be a whole number, got ${JSON.stringify(own(b, 'balance')) ?? 'nothing'}`);
      }
      const quantity = shelfQuantity(balance);
      out.changes.push({
        tag: 'stock',
        val: {
          target: { tag: 'external-ref', val: variantId },
          quantity: BigInt(quantity),
          availability: availabilityFor(quantity, ctx.lowStockThreshold),
          sourceVersion: defaults.sourceVersion,
        },
      });
    } catch (e) {
      if (!(e instanceof RecordError)) throw e;
      out.rejected.push(rejection(variantId, e.path, e.message));
    }
  }
}

/** An Inventory API balance response: `{locationUuid, trackedProducts, variants: [...]}`. */
export function mapInventory(doc, path, ctx, out) {
  const variants = own(doc, 'variants');
  mapBalances(variants, key(path, 'variants'), ctx, {
    locationUuid: nonEmptyString(own(doc, 'locationUuid')) ? own(doc, 'locationUuid').trim() : undefined,
    locationType: undefined,
    sourceVersion: undefined,
  }, out);
}

/** The Pusher events that change the catalog; the rest are acknowledged and ignored. */
export const CATALOG_EVENTS = ['ProductCreated', 'ProductUpdated', 'ProductDeleted', 'InventoryBalanceChanged'];
/** Events after which only a fresh poll knows the truth (which variants are tracked now). */
export const POLL_EVENTS = ['InventoryTrackingStarted', 'InventoryTrackingStopped'];

/**
 * A Pusher message body -> changes. `payload` is a JSON document inside a
 * JSON string; paths into it continue from `$.payload`.
 * Returns `{ out, requestPoll }`.
 */
export function mapEvent(body, ctx) {
  const out = new Outcome();
  const eventName = own(body, 'eventName');
  if (typeof eventName !== 'string') throw invalidInput('the webhook has no `eventName`', '$.eventName');
  if (!CATALOG_EVENTS.includes(eventName)) {
    return { out, requestPoll: POLL_EVENTS.includes(eventName) };
  }
  const raw = own(body, 'payload');
  if (typeof raw !== 'string') {
    throw invalidInput(`a ${eventName} message carries its \`payload\` as a JSON string`, '$.payload');
  }
  const payload = parseJson(raw, '$.payload', `the ${eventName} payload`);
  const pp = '$.payload';
  if (!isObject(payload)) throw invalidInput(`the ${eventName} payload must be a JSON object`, pp);
  switch (eventName) {
    case 'ProductCreated':
      mapProduct(payload, pp, ctx, out);
      break;
    case 'ProductUpdated':
      mapProductUpdated(payload, pp, ctx, out);
      break;
    case 'ProductDeleted':
      mapProductDeleted(payload, pp, out);
      break;
    case 'InventoryBalanceChanged':
      mapBalanceChanged(payload, pp, ctx, out);
      break;
  }
  return { out, requestPoll: false };
}

function variantIds(product) {
  const variants = isObject(product) ? own(product, 'variants') : undefined;
  if (!Array.isArray(variants)) return [];
  return variants.filter((v) => isObject(v) && nonEmptyString(own(v, 'uuid'))).map((v) => own(v, 'uuid').trim());
}

function mapProductUpdated(payload, path, ctx, out) {
  const newEntity = own(payload, 'newEntity');
  const np = key(path, 'newEntity');
  if (!isObject(newEntity)) throw invalidInput('a ProductUpdated payload has a `newEntity` object', np);
  mapProduct(newEntity, np, ctx, out);
  // A variant removed from the product is no longer sold.
  const kept = new Set(variantIds(newEntity));
  const version = typeof own(newEntity, 'updated') === 'string' ? own(newEntity, 'updated').trim() || undefined : undefined;
  for (const id of variantIds(own(payload, 'oldEntity'))) {
    if (!kept.has(id)) out.changes.push({ tag: 'delete', val: { externalRef: id, sourceVersion: version } });
  }
}

function mapProductDeleted(payload, path, out) {
  const productId = nonEmptyString(own(payload, 'uuid')) ? own(payload, 'uuid').trim() : undefined;
  const ids = variantIds(payload);
  if (ids.length === 0) {
    out.rejected.push(rejection(productId, key(path, 'variants'), 'the deleted product lists no variant `uuid`s, so nothing can be removed'));
    return;
  }
  const version = typeof own(payload, 'updated') === 'string' ? own(payload, 'updated').trim() || undefined : undefined;
  for (const id of ids) out.changes.push({ tag: 'delete', val: { externalRef: id, sourceVersion: version } });
}

function mapBalanceChanged(payload, path, ctx, out) {
  const after = own(payload, 'balanceAfter');
  const ap = key(path, 'balanceAfter');
  if (!Array.isArray(after)) throw invalidInput('an InventoryBalanceChanged payload has a `balanceAfter` list', ap);
  const updated = own(payload, 'updated');
  const ts = isObject(updated) ? own(updated, 'timestamp') : undefined;
  mapBalances(after, ap, ctx, {
    locationUuid: undefined,
    locationType: undefined,
    sourceVersion: nonEmptyString(ts) ? ts.trim() : undefined,
  }, out);
}

/**
 * Any payload `map-records` accepts, already parsed: a product list (array,
 * or `{products: [...]}` as the library endpoint has it), one product, an
 * inventory balance response, or a Pusher message body.
 */
export function mapDocument(doc, ctx) {
  if (Array.isArray(doc)) {
    const out = new Outcome();
    for (let i = 0; i < doc.length; i++) mapProduct(doc[i], '$[' + i + ']', ctx, out);
    return out;
  }
  if (!isObject(doc)) {
    throw invalidInput(
      'expected a Zettle product list (a JSON array), a product, an inventory balance response or a Pusher message (a JSON object)',
      '$',
    );
  }
  if (own(doc, 'eventName') !== undefined) return mapEvent(doc, ctx).out;
  const products = own(doc, 'products');
  if (products !== undefined) {
    if (!Array.isArray(products)) throw invalidInput('`products` must be a list of products', '$.products');
    const out = new Outcome();
    for (let i = 0; i < products.length; i++) mapProduct(products[i], '$.products[' + i + ']', ctx, out);
    return out;
  }
  const variants = own(doc, 'variants');
  if (own(doc, 'uuid') !== undefined || own(doc, 'name') !== undefined) {
    const out = new Outcome();
    mapProduct(doc, '$', ctx, out);
    return out;
  }
  if (variants !== undefined) {
    if (!Array.isArray(variants)) throw invalidInput('`variants` must be a list of inventory balances', '$.variants');
    const out = new Outcome();
    mapInventory(doc, '$', ctx, out);
    return out;
  }
  throw invalidInput(
    'unrecognised JSON object: expected a product (`uuid`, `name`, `variants`), `{"products": [...]}`, an inventory balance response (`variants` of `variantUuid`/`balance`) or a Pusher message (`eventName`, `payload`)',
    '$',
  );
}
