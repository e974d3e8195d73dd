import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as core from '../src/core.js';
import { FIXTURES, fakeHost, render } from './support.js';

const vector = JSON.parse(readFileSync(join(FIXTURES, 'webhook-signature-vector.json'), 'utf8'));
const body = readFileSync(join(FIXTURES, vector.body_file));
const secrets = { webhook_signing_key: vector.signing_key };

const webhook = (b, headers) => ({ url: 'https://connector.example/zettle', headers, contentType: 'application/json', body: b });
const failure = (f) => {
  try {
    f();
  } catch (e) {
    assert.ok(e.variant, `expected a typed failure, got ${e}`);
    return e.variant;
  }
  assert.fail('expected the call to fail');
};

test('the signed message is timestamp.payload, with payload the JSON string as sent', () => {
  const msg = new TextDecoder().decode(core.signedMessage(JSON.parse(body)));
  assert.equal(msg, vector.signed_message);
});

test('a correctly signed InventoryBalanceChanged message becomes a stock change', () => {
  const host = fakeHost({ secrets, settings: { low_stock_threshold: '5' } });
  const out = core.handleWebhook(host, webhook(body, [['x-izettle-signature', vector.x_izettle_signature]]));
  assert.equal(out.requestPoll, false);
  assert.deepEqual(out.changes.map(render), [{
    op: 'stock',
    external_ref: '4745e110-a111-11eb-adc0-ffd446d76f99',
    quantity: 5,
    availability: 'low-stock',
    source_version: '2021-04-19T13:18:11.966+0000',
  }]);
});

test('the signature header is matched case-insensitively and may be upper-case hex', () => {
  const host = fakeHost({ secrets });
  const out = core.handleWebhook(host, webhook(body, [['X-iZettle-Signature', vector.x_izettle_signature.toUpperCase()]]));
  assert.equal(out.changes.length, 1);
});

test('a wrong or missing signature is unauthenticated', () => {
  const host = fakeHost({ secrets });
  const wrong = vector.x_izettle_signature.replace(/^./, (c) => (c === '0' ? '1' : '0'));
  assert.equal(failure(() => core.handleWebhook(host, webhook(body, [['x-izettle-signature', wrong]]))).tag, 'unauthenticated');
  assert.equal(failure(() => core.handleWebhook(host, webhook(body, []))).tag, 'unauthenticated');
  const tampered = JSON.parse(body);
  tampered.timestamp = '2021-04-19T13:18:12.000Z';
  assert.equal(
    failure(() => core.handleWebhook(host, webhook(new TextEncoder().encode(JSON.stringify(tampered)), [['x-izettle-signature', vector.x_izettle_signature]]))).tag,
    'unauthenticated',
  );
});

test('a missing signing key is not-configured and names the secret', () => {
  const v = failure(() => core.handleWebhook(fakeHost(), webhook(body, [['x-izettle-signature', vector.x_izettle_signature]])));
  assert.equal(v.tag, 'not-configured');
  assert.match(v.val, /webhook_signing_key/);
});

test('the subscription test message is acknowledged with no changes, unsigned', () => {
  const test = readFileSync(join(FIXTURES, 'webhook-test-message.input.json'));
  assert.deepEqual(core.handleWebhook(fakeHost(), webhook(test, [])), { changes: [], rejected: [], requestPoll: false });
});


test('tracking started/stopped asks the host to poll; other events change nothing', async () => {
  const { createHmac } = await import('node:crypto');
  const host = fakeHost({ secrets });
  for (const [eventName, poll] of [['InventoryTrackingStarted', true], ['InventoryTrackingStopped', true], ['PurchaseCreated', false]]) {
    const m = { eventName, timestamp: '2021-04-19T13:17:56.585Z', payload: '{"organizationUuid":"o"}' };
    const sig = createHmac('sha256', vector.signing_key).update(`${m.timestamp}.${m.payload}`).digest('hex');
    const out = core.handleWebhook(host, webhook(new TextEncoder().encode(JSON.stringify(m)), [['x-izettle-signature', sig]]));
    assert.deepEqual([out.changes.length, out.requestPoll], [0, poll], eventName);
  }
});

test('a body that is not JSON is invalid-input at $', () => {
  const v = failure(() => core.handleWebhook(fakeHost({ secrets }), webhook(new TextEncoder().encode('{"eventName":'), [])));
  assert.deepEqual([v.tag, v.val.path], ['invalid-input', '$']);
});
