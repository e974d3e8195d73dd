// Reading untrusted JSON with a JSON path in every complaint.

import { invalidInput } from './errors.js';

/** `$.a`. Only ever called with Zettle's field names, which are plain identifiers. */
export function key(path, name) {
  return path + '.' + name;
}

/** `$[3]`. */
export function index(path, i) {
  return `${path}[${i}]`;
}

export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * A field of a parsed JSON object. A plain read: every name the adapter
 * reads is a Zettle field name, none of which exists on `Object.prototype`,
 * so a payload cannot reach a prototype member through it (a per-field
 * `hasOwnProperty` call costs a third of the mapping time in the
 * interpreter the component runs).
 */
export function own(o, name) {
  return o[name];
}

export function nonEmptyString(v) {
  return typeof v === 'string' && v.trim() !== '';
}

/** UTF-8 bytes to text; invalid UTF-8 is `invalid-input` at `path`. */
export function decodeUtf8(bytes, path) {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw invalidInput('the payload is not valid UTF-8 text', path);
  }
}

/** Parse JSON text; anything unparseable (truncated, not JSON) is `invalid-input` at `path`. */
export function parseJson(text, path, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    const reason = e && typeof e.message === 'string' ? e.message : String(e);
    throw invalidInput(`${what} is not valid JSON (${reason})`, path);
  }
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

const INTEGER = /^-?[0-9]+$/;

/**
 * A whole number given as a JSON integer or a decimal string (Zettle's
 * inventory `balance` is a string in some responses, a number in others).
 * `null` when it is not a safe integer: no rounding, ever.
 */
export function wholeNumber(v) {
  if (typeof v === 'number') {
    return Number.isSafeInteger(v) ? v : null;
  }
  if (typeof v === 'string' && INTEGER.test(v.trim())) {
    const big = BigInt(v.trim());
    if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
      return null;
    }
    return Number(big);
  }
  return null;
}
