// poll and push-order through a fake `pos-http`: which requests go out,
// and how Zettle's answers and failures come back.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as core from '../src/core.js';
import { INVENTORY_ORIGIN } from '../src/zettle-http.js';
import { fakeHost, render } from './support.js';

const products = [
  {
    uuid: 'P1',
    name: 'Jollof',
    updated: '2024-01-02T10:00:00.000+0000',
    variants: [
      { uuid: 'V1', name: 'Small', price: { amount: 150000, currencyId: 'NGN' } },
      { uuid: 'V2', name: 'Large', price: { amount: 250000, currencyId: 'NGN' } },
    ],
  },
  { uuid: 'P2', name: 'Zobo', variants: [{ uuid: 'V3', price: { amount: 50000, currencyId: 'NGN' } }] },
];
const balances = {
  locationUuid: 'STORE-1',
  trackedProducts: ['P1'],
  variants: [{ locationUuid: 'STORE-1', locationType: 'STORE', productUuid: 'P1', variantUuid: 'V1', balance: '2' }],
};
const settings = { currency: 'NGN', location_uuid: 'STORE-1', low_stock_threshold: '2' };
const routes = {
  'get /organizations/self/products/v2': { body: products },
  [`get ${INVENTORY_ORIGIN}/organizations/self/inventory/locations/STORE-1`]: { body: balances },
};
const failure = (f) => {
  try {
    f();
  } catch (e) {
    assert.ok(e.variant, `expected a typed failure, got ${e}`);
    return e.variant;
  }
  assert.fail('expected the call to fail');
};

test('poll merges the location balances into the upserts of tracked products', () => {
  const host = fakeHost({ settings, routes });
  const page = core.poll(host, undefined);
  assert.equal(page.more, false);
  assert.equal(page.cursor, undefined);
  assert.deepEqual(page.changes.map(render).map((c) => [c.item.external_ref, c.item.quantity, c.item.availability]), [
    ['V1', 2, 'low-stock'],
    // Tracked, but absent from the balance list: zero on the shelf.
    ['V2', 0, 'out-of-stock'],
    // Not tracked: no quantity.
    ['V3', null, 'in-stock'],
  ]);
  assert.deepEqual(host.sent.map((r) => [r.method, r.path]), [
    ['get', '/organizations/self/products/v2'],
    ['get', `${INVENTORY_ORIGIN}/organizations/self/inventory/locations/STORE-1`],
  ]);
});

test('without location_uuid poll asks for the STORE location type', () => {
  const host = fakeHost({
    settings: { currency: 'NGN' },
    routes: {
      'get /organizations/self/products/v2': { body: products },
      [`get ${INVENTORY_ORIGIN}/organizations/self/inventory/locations/`]: { body: balances },
    },
  });
  core.poll(host, undefined);
  assert.deepEqual(host.sent[1].query, [['type', 'STORE']]);
});

test('Zettle errors become upstream errors that say whether a retry can help', () => {
  const status = (s) => failure(() => core.poll(fakeHost({ settings, routes: { 'get /organizations/self/products/v2': { status: s, body: 'nope' } } }), undefined));
  const unavailable = status(503);
  assert.deepEqual([unavailable.tag, unavailable.val.status, unavailable.val.retryable], ['upstream', 503, true]);
  const unauthorized = status(401);
  assert.deepEqual([unauthorized.val.status, unauthorized.val.retryable], [401, false]);
  assert.match(unauthorized.val.message, /token/);
  const timeout = failure(() => core.poll(fakeHost({ settings, routes: { 'get /organizations/self/products/v2': { error: { tag: 'timeout' } } } }), undefined));
  assert.deepEqual([timeout.tag, timeout.val.retryable], ['upstream', true]);
  const denied = failure(() => core.poll(fakeHost({ settings, routes: { 'get /organizations/self/products/v2': { body: products } } }), undefined));
  assert.deepEqual([denied.tag, denied.val.retryable], ['upstream', false]);
  assert.match(denied.val.message, /refused/);
});

const order = {
  orderId: 'ord_1',
  idempotencyKey: 'snapact-ord_1',
  createdAt: '2024-01-02T10:00:00Z',
  lines: [
    { externalRef: 'V1', name: 'Jollof (Small)', quantity: 2n, unitPrice: { amountMinor: 150000n, currency: 'NGN' } },
    { externalRef: 'V3', name: 'Zobo', quantity: 1n, unitPrice: { amountMinor: 50000n, currency: 'NGN' } },
  ],
  subtotal: { amountMinor: 350000n, currency: 'NGN' },
  total: { amountMinor: 350000n, currency: 'NGN' },
  fulfillment: 'pickup',
  note: undefined,
};
const locations = [
  { uuid: 'STORE-1', type: 'STORE', name: 'STORE', default: true },
  { uuid: 'BIN-1', type: 'BIN', name: 'BIN', default: false },
  { uuid: 'SOLD-1', type: 'SOLD', name: 'SOLD', default: false },
];
const pushRoutes = {
  'get /organizations/self/products/v2': { body: products },
  [`get ${INVENTORY_ORIGIN}/organizations/self/locations`]: { body: locations },
  [`put ${INVENTORY_ORIGIN}/organizations/self/inventory`]: { body: { locationUuid: 'STORE-1', variants: [] } },
};

test('push-order moves the sold quantities from STORE to SOLD with a stable externalUuid', () => {
  const host = fakeHost({ settings: { currency: 'NGN' }, routes: pushRoutes });
  const ref = core.pushOrder(host, order);
  const put = host.sent.find((r) => r.method === 'put');
  const body = JSON.parse(new TextDecoder().decode(put.body));
  assert.deepEqual(body, {
    changes: [
      { productUuid: 'P1', variantUuid: 'V1', fromLocationUuid: 'STORE-1', toLocationUuid: 'SOLD-1', change: 2 },
      { productUuid: 'P2', variantUuid: 'V3', fromLocationUuid: 'STORE-1', toLocationUuid: 'SOLD-1', change: 1 },
    ],
    externalUuid: ref.id,
  });
  assert.match(ref.id, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(core.pushOrder(fakeHost({ settings: { currency: 'NGN' }, routes: pushRoutes }), order).id, ref.id, 'a retry sends the same externalUuid');
  assert.notEqual(core.externalUuid('snapact-ord_2'), ref.id);
  assert.ok(put.headers.some(([k, v]) => k === 'content-type' && v === 'application/json'));
});

test('push-order uses configured locations without asking Zettle, and keeps a UUID idempotency key', () => {
  const host = fakeHost({ settings: { location_uuid: 'S', sold_location_uuid: 'D' }, routes: pushRoutes });
  const key = '3F2504E0-4F89-11D3-9A0C-0305E82C3301';
  assert.equal(core.pushOrder(host, { ...order, idempotencyKey: key }).id, key.toLowerCase());
  assert.ok(!host.sent.some((r) => r.path.endsWith('/locations')));
});

test('push-order refuses a line whose variant is not in Zettle', () => {
  const v = failure(() => core.pushOrder(fakeHost({ routes: pushRoutes }), { ...order, lines: [{ ...order.lines[0], externalRef: 'GONE' }] }));
  assert.deepEqual([v.tag, v.val.path], ['invalid-input', '$.lines[0].external_ref']);
});

test('cancelled and refunded orders are unsupported (no stock is moved back); other statuses are fine', () => {
  assert.equal(core.orderStatusChanged(fakeHost(), { orderId: 'o', status: 'ready', idempotencyKey: 'k' }), undefined);
  assert.equal(failure(() => core.orderStatusChanged(fakeHost(), { orderId: 'o', status: 'refunded', idempotencyKey: 'k' })).tag, 'unsupported');
});
