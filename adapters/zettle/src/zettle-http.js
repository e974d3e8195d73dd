// Calls to Zettle through the host's `pos-http` import. The host injects the
// shop's OAuth token; the adapter never sees it.
//
// Zettle serves products and inventory from two hosts. The shop's POS base
// URL is the Product Library (`https://products.izettle.com`); Inventory API
// calls name their host in full, which the host allows because the manifest
// declares `inventory.izettle.com` in `http_hosts`.

import { notConfigured, upstream } from './errors.js';

export const INVENTORY_ORIGIN = 'https://inventory.izettle.com';

const JSON_HEADERS = [['accept', 'application/json']];

function send(host, method, path, opts) {
  const body = opts && opts.body;
  const headers = body ? [...JSON_HEADERS, ['content-type', 'application/json']] : JSON_HEADERS;
  try {
    return host.send({
      method,
      path,
      query: (opts && opts.query) || [],
      headers,
      body: body || new Uint8Array(0),
    });
  } catch (e) {
    throw fromHttpError(e && e.payload, method, path);
  }
}

/** A request to the Product Library (the shop's POS base URL). */
export function productsRequest(host, method, path, opts) {
  return { method, path, resp: send(host, method, path, opts) };
}

/** A request to the Inventory API, by its own host. */
export function inventoryRequest(host, method, path, opts) {
  const url = INVENTORY_ORIGIN + path;
  return { method, path: url, resp: send(host, method, url, opts) };
}

function fromHttpError(p, method, path) {
  const what = `${method.toUpperCase()} ${path}`;
  if (!p || typeof p.tag !== 'string') return upstream(`${what} failed`, undefined, true);
  switch (p.tag) {
    case 'denied':
      return upstream(`the host refused ${what}: ${p.val}`, undefined, false);
    case 'not-configured':
      return notConfigured(`${what}: ${p.val}; set the shop's pos_base_url to https://products.izettle.com and its Zettle OAuth token`);
    case 'timeout':
      return upstream(`${what}: Zettle did not answer in time`, undefined, true);
    case 'connection':
      return upstream(`${what}: could not reach Zettle (${p.val})`, undefined, true);
    case 'response-too-large':
      return upstream(`${what}: the response exceeded the host's limit of ${p.val} bytes`, undefined, false);
    case 'rate-limited':
      return upstream(`${what}: the shop's request budget is spent; try later`, undefined, true);
    default:
      return upstream(`${what} failed (${p.tag})`, undefined, true);
  }
}

/** A 2xx answer's JSON body (or `null` when empty and `allowEmpty`); anything else is `upstream`. */
export function decodeJsonBody(host, call, what, allowEmpty) {
  const { method, path, resp } = call;
  const status = resp.status;
  const text = new TextDecoder().decode(resp.body);
  if (status < 200 || status > 299) {
    const retryable = status === 408 || status === 429 || status >= 500;
    const hint = status === 401 || status === 403 ? ': the shop\'s Zettle token is missing, expired or lacks READ:PRODUCT/WRITE:PRODUCT' : '';
    throw upstream(`${method.toUpperCase()} ${path} answered HTTP ${status}${hint}: ${text.slice(0, 300)}`, status, retryable);
  }
  if (text.trim() === '') {
    if (allowEmpty) return null;
    throw upstream(`${what} from Zettle was empty`, status, false);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw upstream(`${what} from Zettle is not JSON`, status, false);
  }
}
