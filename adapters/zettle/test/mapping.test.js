import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as core from '../src/core.js';
import { fakeHost, render } from './support.js';

const enc = (v) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const map = (doc, settings = { currency: 'GBP' }) => core.mapRecords(fakeHost({ settings }), enc(doc), 'application/json');
const failure = (f) => {
  try {
    f();
  } catch (e) {
    assert.ok(e.variant, `expected a typed failure, got ${e}`);
    return e.variant;
  }
  assert.fail('expected the call to fail');
};

const product = (over = {}) => ({
  uuid: 'p1',
  name: 'Jollof',
  variants: [{ uuid: 'v1', name: 'Large', price: { amount: 250000, currencyId: 'GBP' } }],
  ...over,
});

test('truncated or non-JSON payloads are invalid-input at $', () => {
  for (const bad of ['[{"uuid":', '', 'not json', '\xff']) {
    const v = failure(() => map(bad));
    assert.equal(v.tag, 'invalid-input');
    assert.equal(v.val.path, '$');
  }
  const v = failure(() => core.mapRecords(fakeHost(), new Uint8Array([0xff, 0xfe]), 'application/json'));
  assert.deepEqual([v.tag, v.val.path], ['invalid-input', '$']);
});

test('unrecognised shapes are invalid-input with a path, never an exception', () => {
  for (const shape of ['{}', '42', '"x"', 'null', 'true', '{"objects":5}', '{"items":{}}', '{"products":5}', '{"variants":5}']) {
    const v = failure(() => map(shape));
    assert.equal(v.tag, 'invalid-input', shape);
    assert.ok(typeof v.val.path === 'string' && v.val.path.startsWith('$'), shape);
  }
  assert.deepEqual(map('[]'), { changes: [], rejected: [] });
});

test('records that are not products are rejected one by one', () => {
  const m = map([{}, 1, [2], product()]);
  assert.equal(m.changes.length, 1);
  assert.deepEqual(m.rejected.map((r) => [r.recordId, r.path]), [
    [undefined, '$[0].uuid'],
    [undefined, '$[1]'],
    [undefined, '$[2]'],
  ]);
});

test('a single-variant product is named by the product alone', () => {
  const [c] = map([product()]).changes.map(render);
  assert.equal(c.item.name, 'Jollof');
  assert.equal(c.item.price_minor, 250000);
  assert.equal(c.item.currency, 'GBP');
  assert.equal(c.item.external_ref, 'v1');
  assert.equal(c.item.parent_ref, 'p1');
});

test('money must be exact: fractional, unsafe or negative amounts are rejected at the amount', () => {
  for (const amount of [10.5, 2 ** 53, -1, '100', null]) {
    const m = map([product({ variants: [{ uuid: 'v1', price: { amount, currencyId: 'GBP' } }] })]);
    assert.equal(m.changes.length, 0, `amount ${amount}`);
    assert.deepEqual([m.rejected[0].recordId, m.rejected[0].path], ['v1', '$[0].variants[0].price.amount']);
  }
  const big = map(`[{"uuid":"p","name":"n","variants":[{"uuid":"v","price":{"amount":9007199254740993,"currencyId":"GBP"}}]}]`);
  assert.equal(big.rejected.length, 1, 'an amount above 2^53 would silently change: rejected');
});

test('unknown currency codes and a currency other than the shop\'s are rejected', () => {
  const bad = map([product({ variants: [{ uuid: 'v1', price: { amount: 1, currencyId: 'XYZ' } }] })]);
  assert.match(bad.rejected[0].message, /ISO 4217/);
  const other = map([product()], { currency: 'NGN' });
  assert.equal(other.rejected[0].path, '$[0].variants[0].price.currencyId');
  assert.match(other.rejected[0].message, /GBP.*NGN/);
});

test('a product without a price is on request', () => {
  const [c] = map([product({ variants: [{ uuid: 'v1' }] })]).changes.map(render);
  assert.equal(c.item.availability, 'on-request');
  assert.equal(c.item.price_minor, null);
  assert.equal(c.item.currency, null);
});

test('the currency setting is required for prices and must be ISO 4217', () => {
  assert.equal(failure(() => map([product()], {})).tag, 'not-configured');
  assert.equal(failure(() => map([product()], { currency: 'pounds' })).tag, 'not-configured');
  assert.equal(failure(() => map([product()], { currency: 'GBP', low_stock_threshold: 'five' })).tag, 'not-configured');
  // Stock needs no currency.
  assert.equal(map({ variants: [{ variantUuid: 'v1', balance: '3' }] }, {}).changes.length, 1);
});

test('a bad variant rejects only that variant', () => {
  const m = map([product({ variants: [{ uuid: 'v1', name: 'S', price: { amount: 1, currencyId: 'GBP' } }, { name: 'M' }] })]);
  assert.deepEqual(m.changes.map((c) => c.val.name), ['Jollof (S)']);
  assert.deepEqual([m.rejected[0].recordId, m.rejected[0].path], ['p1', '$[0].variants[1].uuid']);
});

test('inventory balances: location filter, thresholds, negative balances and bad numbers', () => {
  const doc = {
    locationUuid: 'L1',
    variants: [
      { locationUuid: 'L1', variantUuid: 'a', balance: '0' },
      { locationUuid: 'L1', variantUuid: 'b', balance: 3 },
      { locationUuid: 'L2', variantUuid: 'c', balance: '9' },
      { locationUuid: 'L1', variantUuid: 'd', balance: '-2' },
      { locationUuid: 'L1', variantUuid: 'e', balance: '1.5' },
      { locationUuid: 'L1', variantUuid: 'f', balance: '99999999999999999999' },
    ],
  };
  const m = map(doc, { location_uuid: 'L1', low_stock_threshold: '3' });
  assert.deepEqual(m.changes.map(render), [
    { op: 'stock', external_ref: 'a', quantity: 0, availability: 'out-of-stock' },
    { op: 'stock', external_ref: 'b', quantity: 3, availability: 'low-stock' },
    { op: 'stock', external_ref: 'd', quantity: 0, availability: 'out-of-stock' },
  ]);
  assert.deepEqual(m.rejected.map((r) => [r.recordId, r.path]), [['e', '$.variants[4].balance'], ['f', '$.variants[5].balance']]);
  // Without a configured location only STORE balances count.
  const typed = map({ variants: [{ locationType: 'SOLD', variantUuid: 'x', balance: '4' }, { locationType: 'STORE', variantUuid: 'y', balance: '4' }] }, {});
  assert.deepEqual(typed.changes.map((c) => c.val.target.val), ['y']);
});

test('keys that name Object.prototype members do not reach the prototype', () => {
  const v = failure(() => map({ constructor: 1, toString: 2 }));
  assert.equal(v.tag, 'invalid-input');
  const m = map([{ uuid: 'p', name: 'n', variants: [{ uuid: 'v', price: { amount: 1, currencyId: 'GBP' }, hasOwnProperty: 1 }] }]);
  assert.equal(m.changes.length, 1);
});

test('the library endpoint shape {products: [...]} maps like a list, with paths into it', () => {
  const m = map({ products: [product(), { uuid: 'p2' }] });
  assert.equal(m.changes.length, 1);
  assert.equal(m.rejected[0].path, '$.products[1].name');
});

test('a non-JSON content type is unsupported', () => {
  const v = failure(() => core.mapRecords(fakeHost(), enc('[]'), 'text/csv'));
  assert.equal(v.tag, 'unsupported');
});
