// Reading untrusted JSON with a JSON path in every complaint.

import { invalidInput } from './errors.js';

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** `$.a`, `$["odd key"]`. */
export function key(path, name) {
  return IDENT.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

/** `$[3]`. */
export function index(path, i) {
  return `${path}[${i}]`;
}

export function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** An own property only: keys such as `constructor` must not reach the prototype. */
export function own(o, name) {
  return Object.prototype.hasOwnProperty.call(o, name) ? o[name] : undefined;
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
