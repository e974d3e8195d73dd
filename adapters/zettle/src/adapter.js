// The component's entry point: binds the WIT imports of world
// `snapact:adapter/adapter` to `core.js` and exports `pos-adapter`.
//
// componentize-js conventions: the exported interface is an object named in
// camelCase; a `result<T, E>` export returns T and throws E (the variant
// value itself); a `result` import throws an error whose `payload` is E.
// Any other exception escaping an export is a trap, so every export catches
// everything and answers with a typed `adapter-error`.

import { send } from 'snapact:adapter/pos-http@0.1.0';
import { verifyHmac } from 'snapact:adapter/signatures@0.1.0';
import { get } from 'snapact:adapter/settings@0.1.0';
import { log } from 'snapact:adapter/log@0.1.0';

import * as core from './core.js';
import { AdapterFailure } from './errors.js';

const host = {
  send,
  verifyHmac,
  getSetting: get,
  log(level, message) {
    try {
      log(level, message);
    } catch (e) {
      // Logging must never fail a call.
    }
  },
};

function describe(e) {
  try {
    return e && typeof e.message === 'string' ? e.message : String(e);
  } catch (ignored) {
    return 'unknown error';
  }
}

/** Run `f`; a typed failure becomes its WIT variant, anything else `fallback(message)`. */
function guarded(f, fallback) {
  try {
    return f();
  } catch (e) {
    if (e instanceof AdapterFailure) throw e.variant;
    const message = describe(e);
    host.log('error', `zettle adapter: unexpected ${message}`);
    throw fallback(message);
  }
}

const unreadable = (message) => ({
  tag: 'invalid-input',
  val: { message: `the payload could not be mapped: ${message}`, path: '$' },
});
const failed = (message) => ({
  tag: 'upstream',
  val: { message: `the adapter failed: ${message}`, status: undefined, retryable: false },
});

export const posAdapter = {
  mapRecords(payload, contentType) {
    return guarded(() => core.mapRecords(host, payload, contentType), unreadable);
  },
  handleWebhook(req) {
    return guarded(() => core.handleWebhook(host, req), unreadable);
  },
  poll(cursor) {
    return guarded(() => core.poll(host, cursor), failed);
  },
  pushOrder(order) {
    return guarded(() => core.pushOrder(host, order), failed);
  },
  orderStatusChanged(update) {
    return guarded(() => core.orderStatusChanged(host, update), failed);
  },
};
