// Test support: a fake host for `core.js` and the `adapter map` JSON form
// (the golden `NAME.expected.json` format of host/src/catalog.rs).

import { createHmac } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'tests', 'fixtures', 'zettle');

/** A host whose settings, secrets and HTTP answers a test chooses. */
export function fakeHost({ settings = {}, secrets = {}, routes = {} } = {}) {
  const sent = [];
  const logs = [];
  return {
    sent,
    logs,
    getSetting: (k) => settings[k],
    log: (level, message) => logs.push([level, message]),
    verifyHmac(name, algorithm, message, signature, encoding) {
      if (!(name in secrets)) {
        const e = new Error('secret');
        e.payload = { tag: 'not-configured', val: name };
        throw e;
      }
      if (algorithm !== 'sha256' || encoding !== 'hex') return false;
      const want = createHmac('sha256', secrets[name]).update(message).digest('hex');
      return want === signature.toLowerCase();
    },
    send(req) {
      sent.push(req);
      const route = routes[`${req.method} ${req.path}`];
      if (route === undefined) {
        const e = new Error('denied');
        e.payload = { tag: 'denied', val: `no route for ${req.method} ${req.path}` };
        throw e;
      }
      if (route.error) {
        const e = new Error('http');
        e.payload = route.error;
        throw e;
      }
      const body = typeof route.body === 'string' ? route.body : JSON.stringify(route.body);
      return { status: route.status ?? 200, headers: [], body: new TextEncoder().encode(body) };
    },
  };
}

const n = (v) => (v === undefined ? null : typeof v === 'bigint' ? Number(v) : v);

function item(i) {
  const o = {
    external_ref: i.externalRef,
    name: i.name,
    price_minor: i.price === undefined ? null : Number(i.price.amountMinor),
    currency: i.price === undefined ? null : i.price.currency,
    quantity: n(i.quantity),
    availability: i.availability,
  };
  for (const [k, v] of [['sku', i.sku], ['barcode', i.barcode], ['category', i.category], ['description', i.description],
    ['image_url', i.imageUrl], ['parent_ref', i.parentRef], ['stock_key', i.stockKey], ['source_version', i.sourceVersion]]) {
    if (v !== undefined) o[k] = v;
  }
  return o;
}

/** One WIT `change` as `snapact-host adapter map` prints it. */
export function render(c) {
  switch (c.tag) {
    case 'upsert':
      return { op: 'upsert', item: item(c.val) };
    case 'stock': {
      const o = { op: 'stock' };
      o[c.val.target.tag === 'external-ref' ? 'external_ref' : 'stock_key'] = c.val.target.val;
      o.quantity = n(c.val.quantity);
      o.availability = c.val.availability;
      if (c.val.sourceVersion !== undefined) o.source_version = c.val.sourceVersion;
      return o;
    }
    case 'delete': {
      const o = { op: 'delete', external_ref: c.val.externalRef };
      if (c.val.sourceVersion !== undefined) o.source_version = c.val.sourceVersion;
      return o;
    }
    default:
      throw new Error(`unknown change ${c.tag}`);
  }
}

export function renderRejection(r) {
  return { record_id: r.recordId ?? null, path: r.path ?? null, message: r.message };
}

/** Golden fixture names (`NAME` of `NAME.input.json`), sorted as the host sorts them. */
export function fixtureNames() {
  return readdirSync(FIXTURES).filter((f) => f.endsWith('.input.json')).map((f) => f.slice(0, -'.input.json'.length)).sort();
}

export function fixture(name) {
  const read = (suffix) => join(FIXTURES, `${name}${suffix}`);
  return {
    input: readFileSync(read('.input.json')),
    expected: existsSync(read('.expected.json')) ? JSON.parse(readFileSync(read('.expected.json'), 'utf8')) : undefined,
    settings: existsSync(read('.settings.json')) ? JSON.parse(readFileSync(read('.settings.json'), 'utf8')) : {},
  };
}
