// The {{name}} adapter's component entry point (componentize-js): binds the
// WIT imports of world `snapact:adapter/adapter` to `mapping.js` and exports
// `pos-adapter`.
//
// componentize-js conventions: the exported interface is an object named in
// camelCase; a `result<T, E>` export returns T and throws E (the variant
// value itself). Any other exception escaping an export is a trap, which the
// host reports as a crash, so every export answers with a typed
// `adapter-error` whatever happens.

import { get } from 'snapact:adapter/settings@0.1.0';
import { log } from 'snapact:adapter/log@0.1.0';

import { Failure, mapPayload, readSettings } from './mapping.js';

function describe(e) {
  try {
    return e && typeof e.message === 'string' ? e.message : String(e);
  } catch (ignored) {
    return 'unknown error';
  }
}

function unsupported(what) {
  return {
    tag: 'unsupported',
    val: `this adapter does not support ${what} yet: implement it in src/adapter.js (see README.md)`,
  };
}

export const posAdapter = {
  mapRecords(payload, contentType) {
    try {
      return mapPayload(payload, readSettings(get));
    } catch (e) {
      if (e instanceof Failure) throw e.variant;
      const reason = describe(e);
      try {
        log('error', `map-records failed unexpectedly: ${reason}`);
      } catch (ignored) {
        // Logging must never fail the call.
      }
      throw {
        tag: 'invalid-input',
        val: { message: `the payload could not be mapped (${reason}); the adapter logged why`, path: '$' },
      };
    }
  },
  handleWebhook(req) {
    throw unsupported('handle-webhook');
  },
  poll(cursor) {
    throw unsupported('poll');
  },
  pushOrder(order) {
    throw unsupported('push-order');
  },
  orderStatusChanged(update) {
    throw unsupported('order-status-changed');
  },
};
