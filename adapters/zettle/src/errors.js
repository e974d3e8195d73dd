// Typed failures. Everything the adapter throws on purpose is one of these;
// `adapter.js` turns them into the WIT `adapter-error` variant, because a
// plain `Error` escaping an export is a trap in componentize-js.

/** A whole call failed; `variant` is the WIT `adapter-error` value. */
export class AdapterFailure {
  constructor(variant) {
    this.variant = variant;
  }
  toString() {
    const v = this.variant;
    const detail = typeof v.val === 'string' ? v.val : v.val && v.val.message;
    return `${v.tag}: ${detail}`;
  }
}

/** The payload cannot be read at all; `path` is a JSON path (`$` for the whole payload). */
export function invalidInput(message, path) {
  return new AdapterFailure({ tag: 'invalid-input', val: { message, path: path ?? '$' } });
}

/** A setting or secret is missing or malformed; the message names it. */
export function notConfigured(message) {
  return new AdapterFailure({ tag: 'not-configured', val: message });
}

/** The function (or this kind of request) is not supported by Zettle. */
export function unsupported(message) {
  return new AdapterFailure({ tag: 'unsupported', val: message });
}

/** A webhook did not verify. */
export function unauthenticated(message) {
  return new AdapterFailure({ tag: 'unauthenticated', val: message });
}

/** Zettle failed or refused; `status` is the HTTP status when there was an answer. */
export function upstream(message, status, retryable) {
  return new AdapterFailure({
    tag: 'upstream',
    val: { message, status: status ?? undefined, retryable: Boolean(retryable) },
  });
}

/** One record could not be mapped: becomes a `rejection`, the others go on. */
export class RecordError {
  constructor(path, message) {
    this.path = path;
    this.message = message;
  }
}

/** The WIT `rejection` record. */
export function rejection(recordId, path, message) {
  return { recordId: recordId ?? undefined, path: path ?? undefined, message };
}
