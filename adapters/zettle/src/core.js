// The five exports of `pos-adapter`, written against a `host` object
// (`send`, `verifyHmac`, `getSetting`, `log`) so they run in the component
// (`adapter.js` passes the WIT imports) and under `node --test` (fakes).

import { AdapterFailure, invalidInput, notConfigured, unauthenticated, unsupported, upstream } from './errors.js';
import { decodeUtf8, index, isObject, key, nonEmptyString, own, parseJson, utf8 } from './json.js';
import { Outcome, mapDocument, mapEvent, mapInventory, mapProduct } from './mapping.js';
import { availabilityFor, readSettings } from './settings.js';
import { productsRequest, inventoryRequest, decodeJsonBody } from './zettle-http.js';

/** The secret (the subscription's `signingKey`) Pusher messages are signed with. */
export const SIGNING_SECRET = 'webhook_signing_key';
const SIGNATURE_HEADER = 'x-izettle-signature';

function parsePayload(bytes) {
  return parseJson(decodeUtf8(bytes, '$'), '$', 'the payload');
}

export function mapRecords(host, payload, contentType) {
  const type = String(contentType || '').split(';')[0].trim().toLowerCase();
  if (type !== '' && type !== 'application/json' && !type.endsWith('+json') && type !== 'text/json') {
    throw unsupported(`content type ${JSON.stringify(contentType)}: Zettle records are JSON (application/json)`);
  }
  const doc = parsePayload(payload);
  const ctx = readSettings(host.getSetting);
  const out = mapDocument(doc, ctx);
  return { changes: out.changes, rejected: out.rejected };
}

export function handleWebhook(host, req) {
  const body = parsePayload(req.body);
  if (!isObject(body)) throw invalidInput('a Zettle Pusher message is a JSON object', '$');
  const eventName = own(body, 'eventName');
  if (eventName === 'TestMessage') {
    // Sent once when a subscription is created, without a timestamp to sign:
    // acknowledged, and it changes nothing.
    host.log('info', 'Zettle subscription test message received');
    return { changes: [], rejected: [], requestPoll: false };
  }
  verifySignature(host, req.headers, body);
  const ctx = readSettings(host.getSetting);
  const { out, requestPoll } = mapEvent(body, ctx);
  if (out.changes.length === 0 && !requestPoll) {
    host.log('debug', `Zettle event ${JSON.stringify(eventName)} does not change the catalog; acknowledged`);
  }
  return { changes: out.changes, rejected: out.rejected, requestPoll };
}

function header(headers, name) {
  for (const [k, v] of headers) if (String(k).toLowerCase() === name) return v;
  return undefined;
}

/** `X-iZettle-Signature`: hex HMAC-SHA256 of `<timestamp>.<payload>` with the subscription's signing key. */
export function signedMessage(body) {
  const timestamp = own(body, 'timestamp');
  const payload = own(body, 'payload');
  if (typeof timestamp !== 'string' || timestamp === '') {
    throw unauthenticated('the Zettle message has no `timestamp`, which its signature covers');
  }
  if (typeof payload !== 'string') {
    throw unauthenticated('the Zettle message has no `payload` string, which its signature covers');
  }
  return utf8(`${timestamp}.${payload}`);
}

function verifySignature(host, headers, body) {
  const signature = header(headers, SIGNATURE_HEADER);
  if (!nonEmptyString(signature)) throw unauthenticated('missing X-iZettle-Signature header');
  const message = signedMessage(body);
  let ok;
  try {
    ok = host.verifyHmac(SIGNING_SECRET, 'sha256', message, signature.trim(), 'hex');
  } catch (e) {
    const p = e && e.payload;
    if (p && (p.tag === 'not-configured' || p.tag === 'not-declared')) {
      throw notConfigured(
        `secret \`${SIGNING_SECRET}\` is ${p.tag === 'not-declared' ? 'not declared by the adapter' : 'not configured'}: set it to the \`signingKey\` Zettle returned when the webhook subscription was created`,
      );
    }
    throw e;
  }
  if (ok !== true) throw unauthenticated('X-iZettle-Signature does not match: check `webhook_signing_key` is this subscription\'s signingKey');
}

/** Products (v2 list) and the shop's location balances -> one full page of upserts with quantities. */
export function poll(host, cursor) {
  const ctx = readSettings(host.getSetting);
  const products = decodeJsonBody(host, productsRequest(host, 'get', '/organizations/self/products/v2'), 'the product list');
  if (!Array.isArray(products)) {
    throw upstream('the Zettle product list is not a JSON array', undefined, false);
  }
  const inventory = fetchBalances(host, ctx);
  const tracked = new Set();
  const balances = new Map();
  const trackedRaw = own(inventory, 'trackedProducts');
  if (Array.isArray(trackedRaw)) for (const p of trackedRaw) if (typeof p === 'string') tracked.add(p);
  const out = new Outcome();
  if (Array.isArray(own(inventory, 'variants'))) {
    // The same mapping as map-records, so location filtering and number checks agree.
    const stock = new Outcome();
    mapInventory(inventory, '$', ctx, stock);
    for (const c of stock.changes) balances.set(c.val.target.val, c.val.quantity);
    for (const r of stock.rejected) out.rejected.push({ ...r, message: `inventory balance: ${r.message}` });
  }
  products.forEach((p, i) => mapProduct(p, index('$', i), ctx, out));
  for (const change of out.changes) {
    const item = change.val;
    if (!tracked.has(item.parentRef)) continue;
    // The balance list leaves out variants at zero.
    const quantity = balances.get(item.externalRef) ?? 0n;
    item.quantity = quantity;
    if (item.price !== undefined) item.availability = availabilityFor(Number(quantity), ctx.lowStockThreshold);
  }
  // Zettle's product list has no "changed since" filter: every cycle is a
  // full snapshot, so the next cycle starts from the beginning again.
  return { changes: out.changes, rejected: out.rejected, cursor: undefined, more: false };
}

function fetchBalances(host, ctx) {
  const resp = ctx.locationUuid !== null
    ? inventoryRequest(host, 'get', `/organizations/self/inventory/locations/${encodeURIComponent(ctx.locationUuid)}`)
    : inventoryRequest(host, 'get', '/organizations/self/inventory/locations/', { query: [['type', 'STORE']] });
  const doc = decodeJsonBody(host, resp, 'the inventory balances');
  if (!isObject(doc)) throw upstream('the Zettle inventory response is not a JSON object', undefined, false);
  return doc;
}

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * A UUID for Zettle's `externalUuid`, stable for the same idempotency key: the
 * key itself when it is a UUID, otherwise 128 bits of two FNV-1a hashes
 * shaped as a version-8 UUID.
 */
export function externalUuid(idempotencyKey) {
  if (UUID.test(idempotencyKey)) return idempotencyKey.toLowerCase();
  const bytes = utf8(idempotencyKey);
  const mask = (1n << 64n) - 1n;
  const prime = 0x100000001b3n;
  let a = 0xcbf29ce484222325n;
  let b = 0x84222325cbf29ce4n;
  for (const byte of bytes) {
    a = ((a ^ BigInt(byte)) * prime) & mask;
    b = ((b ^ BigInt(255 - byte)) * prime) & mask;
  }
  const hex = a.toString(16).padStart(16, '0') + b.toString(16).padStart(16, '0');
  const v = hex.slice(0, 12) + '8' + hex.slice(13, 16) + ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16) + hex.slice(17);
  return `${v.slice(0, 8)}-${v.slice(8, 12)}-${v.slice(12, 16)}-${v.slice(16, 20)}-${v.slice(20, 32)}`;
}

/**
 * Zettle has no API to create an order: the sale is recorded as a stock
 * movement from the shop's STORE location to its SOLD location, which is
 * what the Zettle app itself does for a purchase.
 */
export function pushOrder(host, order) {
  const ctx = readSettings(host.getSetting);
  const { store, sold } = locations(host, ctx);
  const lines = Array.isArray(order.lines) ? order.lines : [];
  if (lines.length === 0) throw invalidInput('the order has no lines', '$.lines');
  const parents = variantParents(host);
  const changes = lines.map((line, i) => {
    const lp = index('$.lines', i);
    const productUuid = parents.get(line.externalRef);
    if (productUuid === undefined) {
      throw invalidInput(
        `variant ${JSON.stringify(line.externalRef)} is not in the Zettle product library: the item was deleted or never came from Zettle`,
        key(lp, 'external_ref'),
      );
    }
    const qty = BigInt(line.quantity);
    if (qty <= 0n || qty > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw invalidInput(`quantity ${qty} must be a positive whole number`, key(lp, 'quantity'));
    }
    return {
      productUuid,
      variantUuid: line.externalRef,
      fromLocationUuid: store,
      toLocationUuid: sold,
      change: Number(qty),
    };
  });
  const reference = externalUuid(order.idempotencyKey);
  const body = utf8(JSON.stringify({ changes, externalUuid: reference }));
  decodeJsonBody(host, inventoryRequest(host, 'put', '/organizations/self/inventory', { body }), 'the stock movement', true);
  host.log('info', `SnapAct order ${order.orderId} recorded in Zettle as a STORE -> SOLD movement ${reference}`);
  return { id: reference, number: undefined };
}

function locations(host, ctx) {
  let store = ctx.locationUuid;
  let sold = ctx.soldLocationUuid;
  if (store !== null && sold !== null) return { store, sold };
  const list = decodeJsonBody(host, inventoryRequest(host, 'get', '/organizations/self/locations'), 'the inventory locations');
  if (!Array.isArray(list)) throw upstream('the Zettle location list is not a JSON array', undefined, false);
  for (const l of list) {
    if (!isObject(l) || !nonEmptyString(own(l, 'uuid'))) continue;
    if (store === null && own(l, 'type') === 'STORE') store = own(l, 'uuid');
    if (sold === null && own(l, 'type') === 'SOLD') sold = own(l, 'uuid');
  }
  if (store === null || sold === null) {
    throw notConfigured(
      'Zettle reported no STORE and SOLD inventory locations: enable inventory tracking in Zettle, or set `location_uuid` and `sold_location_uuid`',
    );
  }
  return { store, sold };
}

function variantParents(host) {
  const products = decodeJsonBody(host, productsRequest(host, 'get', '/organizations/self/products/v2'), 'the product list');
  if (!Array.isArray(products)) throw upstream('the Zettle product list is not a JSON array', undefined, false);
  const parents = new Map();
  for (const p of products) {
    if (!isObject(p) || !nonEmptyString(own(p, 'uuid'))) continue;
    const variants = own(p, 'variants');
    if (!Array.isArray(variants)) continue;
    for (const v of variants) if (isObject(v) && nonEmptyString(own(v, 'uuid'))) parents.set(own(v, 'uuid'), own(p, 'uuid'));
  }
  return parents;
}

/**
 * Zettle keeps no order to update. A cancelled or refunded order would need
 * its lines to move stock back, which a status update does not carry.
 */
export function orderStatusChanged(host, update) {
  if (update.status === 'cancelled' || update.status === 'refunded') {
    throw unsupported(
      `order ${update.orderId} was ${update.status}: Zettle has no orders, so its stock is not moved back automatically; return the items to stock in Zettle`,
    );
  }
}

export { AdapterFailure };
