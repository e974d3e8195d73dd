// The mapping under Node: the golden fixtures in `fixtures/` (the same files
// `snapact-host adapter test` checks against the built component), then the
// rules one by one. Run from the adapter's folder: `npm test`
// (`node --test test/`).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Failure, mapPayload, readSettings } from '../src/mapping.js';
import { MoneyError, toMinor } from '../src/money.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const SETTINGS = { currency: 'NGN', lowStockThreshold: 5n };

const read = (name) => readFileSync(join(FIXTURES, name));
const bytes = (text) => new TextEncoder().encode(text);
const feed = (products, settings = SETTINGS) => mapPayload(bytes(JSON.stringify({ products })), settings);

/** One WIT `change` as `snapact-host adapter map` prints it (the golden form). */
function render(change) {
  const v = change.val;
  if (change.tag === 'delete') {
    const out = { op: 'delete', external_ref: v.externalRef };
    if (v.sourceVersion !== undefined) out.source_version = v.sourceVersion;
    return out;
  }
  const item = {
    external_ref: v.externalRef,
    name: v.name,
    price_minor: v.price === undefined ? null : Number(v.price.amountMinor),
    currency: v.price === undefined ? null : v.price.currency,
    quantity: v.quantity === undefined ? null : Number(v.quantity),
    availability: v.availability,
  };
  for (const [key, value] of [['sku', v.sku], ['barcode', v.barcode], ['category', v.category],
    ['description', v.description], ['image_url', v.imageUrl], ['source_version', v.sourceVersion]]) {
    if (value !== undefined) item[key] = value;
  }
  return { op: 'upsert', item };
}

function item(product) {
  const m = feed([product]);
  assert.deepEqual(m.rejected, []);
  assert.equal(m.changes.length, 1);
  return m.changes[0].val;
}

function rejection(product, settings = SETTINGS) {
  const m = feed([product], settings);
  assert.deepEqual(m.changes, []);
  assert.equal(m.rejected.length, 1);
  assert.ok(m.rejected[0].message);
  return [m.rejected[0].recordId ?? null, m.rejected[0].path];
}

function failure(payload, settings = SETTINGS) {
  try {
    mapPayload(payload, settings);
  } catch (e) {
    assert.ok(e instanceof Failure, `expected a Failure, got ${e}`);
    return e.variant;
  }
  assert.fail('expected the call to fail');
}

const names = readdirSync(FIXTURES).filter((f) => f.endsWith('.input.json')).map((f) => f.slice(0, -'.input.json'.length)).sort();

test('there are golden fixtures', () => {
  assert.ok(names.length >= 3, `expected at least 3 fixtures, found ${names.length}`);
});

for (const name of names) {
  test(`fixture ${name}`, () => {
    const settingsFile = `${name}.settings.json`;
    const raw = existsSync(join(FIXTURES, settingsFile)) ? JSON.parse(read(settingsFile)) : {};
    const settings = readSettings((k) => raw[k]);
    const expected = JSON.parse(read(`${name}.expected.json`));
    const input = read(`${name}.input.json`);
    if (!Array.isArray(expected) && expected.error) {
      const err = failure(input, settings);
      assert.equal(err.tag, expected.error.kind);
      assert.equal(err.val.path, expected.error.path);
      return;
    }
    const m = mapPayload(input, settings);
    const rejected = m.rejected.map((r) => ({ record_id: r.recordId ?? null, path: r.path }));
    if (Array.isArray(expected)) {
      assert.deepEqual(m.changes.map(render), expected);
      assert.deepEqual(rejected, []);
    } else {
      assert.deepEqual(m.changes.map(render), expected.changes);
      assert.deepEqual(rejected, expected.rejected.map((r) => ({ record_id: r.record_id, path: r.path })));
    }
  });
}

test('prices are exact in the currency\'s minor unit', () => {
  assert.equal(toMinor('0.29', 'USD'), 29n); // 0.29 * 100 is 28.999999999999996 as a JavaScript number
  assert.equal(toMinor('1500', 'NGN'), 150000n);
  assert.equal(toMinor('1200', 'JPY'), 1200n);
  assert.equal(toMinor('1.234', 'KWD'), 1234n);
  assert.equal(toMinor('12.500', 'USD'), 1250n);
  assert.equal(toMinor('7.', 'EUR'), 700n);
  assert.equal(toMinor('.25', 'EUR'), 25n);
  assert.equal(toMinor('9223372036854775807', 'JPY'), 2n ** 63n - 1n);
  for (const [amount, currency] of [['1.999', 'USD'], ['12,50', 'USD'], ['', 'USD'], ['.', 'USD'], ['1e3', 'USD'],
    ['1', 'XYZ'], ['9223372036854775808', 'JPY'], ['9'.repeat(5000), 'USD']]) {
    assert.throws(() => toMinor(amount, currency), MoneyError, amount.slice(0, 20));
  }
  for (const price of ['1.999', '-1.00', '12,50', '', 12.5, true]) {
    assert.deepEqual(rejection({ id: 'A', name: 'A', price, currency: 'USD' }), ['A', '$.products[0].price'], String(price));
  }
});

test('availability follows quantity and the threshold', () => {
  const availability = (quantity) => item({ id: 1, name: 'A', price: '1', quantity }).availability;
  assert.equal(availability(null), 'in-stock');
  assert.equal(availability(0), 'out-of-stock');
  assert.equal(availability(-3), 'out-of-stock');
  assert.equal(availability(5), 'low-stock');
  assert.equal(availability('6'), 'in-stock');
  assert.equal(item({ id: 1, name: 'A', quantity: 9 }).availability, 'on-request');
  assert.equal(item({ id: 1, name: 'A', price: '1', quantity: -3 }).quantity, 0n);
});

test('ids are kept exactly, or refused', () => {
  assert.equal(item({ id: 9007199254740991, name: 'A' }).externalRef, '9007199254740991');
  const big = mapPayload(bytes('{"products": [{"id": 18446744073709551615, "name": "A"}]}'), SETTINGS);
  assert.deepEqual(big.rejected.map((r) => r.path), ['$.products[0].id']);
  for (const bad of [1.5, '', null, [], true]) {
    assert.deepEqual(rejection({ id: bad, name: 'A' }), [null, '$.products[0].id'], String(bad));
  }
});

test('a product without currency needs the setting', () => {
  assert.deepEqual(rejection({ id: 'A', name: 'A', price: '1' }, {}), ['A', '$.products[0].currency']);
});

test('what is not a feed fails as a whole with a path', () => {
  for (const [payload, path] of [['{"products": [', '$'], ['[]', '$'], ['{}', '$.products'],
    ['{"products": {}}', '$.products'], ['['.repeat(100000), '$']]) {
    const err = failure(bytes(payload));
    assert.deepEqual([err.tag, err.val.path], ['invalid-input', path], payload.slice(0, 20));
  }
  assert.equal(failure(new Uint8Array([0xff])).val.path, '$');
  assert.deepEqual(mapPayload(new Uint8Array([0xef, 0xbb, 0xbf, ...bytes('{"products": []}')]), SETTINGS).changes, []);
});

test('malformed settings are not-configured', () => {
  for (const [key, value] of [['currency', 'naira'], ['low_stock_threshold', 'few']]) {
    assert.throws(() => readSettings((k) => (k === key ? value : undefined)), (e) => {
      assert.ok(e instanceof Failure);
      assert.equal(e.variant.tag, 'not-configured');
      assert.ok(e.variant.val.includes(key));
      return true;
    });
  }
  assert.equal(readSettings((k) => (k === 'currency' ? ' ngn ' : undefined)).currency, 'NGN');
});
