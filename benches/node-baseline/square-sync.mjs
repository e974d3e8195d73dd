#!/usr/bin/env node
// Square catalog -> SnapAct Connect, the way a POS vendor would write it
// without the SnapAct adapter host: one plain Node.js script, no
// dependencies (Node 20's built-in fetch), one upsert request per item as
// SnapAct's Node SDK guidance suggests.
//
// It is the baseline `cargo bench -p snapact-benches --bench vs_node`
// measures the host against, on the same input and the same sandbox.
//
//   SNAPACT_API_KEY=sk_... node square-sync.mjs --file catalog.json \
//       --base-url http://127.0.0.1:8787 [--concurrency 8] [--currency NGN] \
//       [--client fetch|http]
//   node square-sync.mjs --file catalog.json --dry-run     # print the items
//
// Input: a Square SearchCatalogObjects (or BatchRetrieveCatalogObjects)
// response body, `{"objects": [...]}`. Output on stdout: one JSON summary
// line; problems go to stderr. The API key is read from the environment and
// never printed.
//
// `--client fetch` (the default) sends with the global fetch; `--client
// http` with `node:http` and a keep-alive agent, which costs Node less CPU
// per request.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';

const UPSERT_PATH = '/connect/v1/catalog/items';
const MAX_ATTEMPTS = 5;

function usage(message) {
  process.stderr.write(
    `${message}\nusage: SNAPACT_API_KEY=... node square-sync.mjs --file CATALOG.json --base-url URL ` +
      '[--concurrency N] [--currency ISO] [--client fetch|http] | --file CATALOG.json --dry-run\n',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { concurrency: 1, currency: undefined, dryRun: false, client: 'fetch' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--file') opts.file = value();
    else if (a === '--base-url') opts.baseUrl = value().replace(/\/+$/, '');
    else if (a === '--concurrency') opts.concurrency = Number(value());
    else if (a === '--currency') opts.currency = value();
    else if (a === '--client') opts.client = value();
    else if (a === '--dry-run') opts.dryRun = true;
    else usage(`unknown argument ${a}`);
  }
  if (!opts.file) usage('--file is required');
  if (!opts.dryRun && !opts.baseUrl) usage('--base-url is required');
  if (!Number.isInteger(opts.concurrency) || opts.concurrency < 1) usage('--concurrency must be a whole number >= 1');
  if (opts.client !== 'fetch' && opts.client !== 'http') usage('--client must be fetch or http');
  return opts;
}

// ---- mapping: Square catalog objects -> SnapAct items ----------------------

/** Square versions are int64 epoch milliseconds; compare them exactly. */
function version(v) {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^[0-9]+$/.test(v)) return BigInt(v);
  return undefined;
}

/**
 * Money: Square's `price_money.amount` is already an integer number of
 * minor units (kobo for NGN, cents for USD). Never go through floats.
 */
function priceOf(variation, currencySetting) {
  const data = variation.item_variation_data ?? {};
  if (data.pricing_type === 'VARIABLE_PRICING') return { variable: true };
  const money = data.price_money;
  if (money == null) throw new Error('fixed-price variation without price_money');
  const amount = money.amount;
  if (!Number.isSafeInteger(amount) || amount < 0) {
    throw new Error(`price_money.amount ${JSON.stringify(amount)} is not a whole number of minor units`);
  }
  const currency = money.currency;
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) {
    throw new Error(`price_money.currency ${JSON.stringify(currency)} is not an ISO 4217 code`);
  }
  if (currencySetting && currency !== currencySetting) {
    throw new Error(`price in ${currency}, but the shop sells in ${currencySetting}`);
  }
  return { amount, currency };
}

/**
 * One SnapAct item per live ITEM_VARIATION (Square sells variations), in
 * SnapAct's upsert JSON. Deleted items and variations become deletes.
 * Returns { upserts, deletes, errors }.
 */
function mapCatalog(body, { currency, verifiedAt }) {
  const objects = Array.isArray(body?.objects) ? body.objects : [];
  const upserts = [];
  const deletes = [];
  const errors = [];
  for (const obj of objects) {
    if (obj?.type !== 'ITEM') continue;
    const item = obj.item_data ?? {};
    const variations = Array.isArray(item.variations) ? item.variations : [];
    if (obj.is_deleted) {
      for (const v of variations) if (v?.id) deletes.push(v.id);
      continue;
    }
    const live = variations.filter((v) => v && !v.is_deleted);
    for (const v of variations) if (v?.id && v.is_deleted) deletes.push(v.id);
    for (const v of live) {
      try {
        if (typeof v.id !== 'string' || v.id === '') throw new Error('variation without id');
        if (typeof item.name !== 'string' || item.name.trim() === '') throw new Error('item without name');
        const data = v.item_variation_data ?? {};
        const name =
          live.length > 1 && typeof data.name === 'string' && data.name !== ''
            ? `${item.name.trim()} (${data.name.trim()})`
            : item.name.trim();
        const price = priceOf(v, currency);
        const out = {
          external_ref: v.id,
          name,
          price_minor: price.variable ? null : price.amount,
          currency: price.variable ? null : price.currency,
          // A catalog carries no inventory counts: stock is not tracked here.
          quantity: null,
          availability: price.variable ? 'on-request' : 'in-stock',
          verified_at: verifiedAt,
        };
        if (typeof data.sku === 'string' && data.sku !== '') out.sku = data.sku;
        if (typeof data.upc === 'string' && data.upc !== '') out.barcode = data.upc;
        const description = item.description_plaintext ?? item.description;
        if (typeof description === 'string' && description !== '') out.description = description;
        out.parent_ref = obj.id;
        const versions = [version(obj.version), version(v.version)].filter((x) => x !== undefined);
        if (versions.length > 0) {
          out.source_version = versions.reduce((a, b) => (a > b ? a : b)).toString();
        }
        upserts.push(out);
      } catch (e) {
        errors.push({ external_ref: v?.id, error: e.message });
      }
    }
  }
  return { upserts, deletes, errors };
}

// ---- delivery: one request per item ----------------------------------------

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** fetch's contract (`ok`, `status`, `headers.get`, `text()`) over node:http with keep-alive. */
function httpClient(concurrency) {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: concurrency }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: concurrency }),
  };
  return (url, init) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const lib = u.protocol === 'https:' ? https : http;
      const req = lib.request(u, { method: init.method, headers: init.headers, agent: agents[u.protocol] }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            ok: res.statusCode >= 200 && res.statusCode < 300,
            status: res.statusCode,
            headers: { get: (name) => res.headers[name.toLowerCase()] ?? null },
            text: async () => text,
          });
        });
      });
      req.on('error', reject);
      req.end(init.body);
    });
}

let client = fetch;

class Fatal extends Error {}

/** One request, retried on network errors, 429 (after Retry-After) and 5xx. */
async function send(url, init, stats) {
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      stats.requests++;
      res = await client(url, init);
    } catch (e) {
      if (attempt >= MAX_ATTEMPTS) throw new Error(`${init.method} ${url}: ${e.message}`);
      await sleep(100 * 2 ** attempt * Math.random());
      continue;
    }
    const text = await res.text();
    if (res.ok) return text === '' ? {} : JSON.parse(text);
    if (res.status === 401 || res.status === 403) {
      throw new Fatal(`SnapAct refused the API key (HTTP ${res.status}): check SNAPACT_API_KEY`);
    }
    if ((res.status === 429 || res.status >= 500) && attempt < MAX_ATTEMPTS) {
      const retryAfter = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 100 * 2 ** attempt * Math.random());
      continue;
    }
    throw new Error(`${init.method} ${url}: HTTP ${res.status} ${text.slice(0, 200)}`);
  }
}

async function upsertOne(opts, key, item, stats) {
  const body = await send(
    `${opts.baseUrl}${UPSERT_PATH}`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-snapact-api-key': key },
      body: JSON.stringify({ items: [item] }),
    },
    stats,
  );
  const result = Array.isArray(body.results) ? body.results[0] : undefined;
  if (result?.status === 'upserted') stats.upserted++;
  else {
    stats.rejected++;
    process.stderr.write(`rejected ${item.external_ref}: ${result?.error ?? JSON.stringify(body)}\n`);
  }
}

async function deleteOne(opts, key, ref, stats) {
  await send(
    `${opts.baseUrl}${UPSERT_PATH}/${encodeURIComponent(ref)}`,
    { method: 'DELETE', headers: { 'x-snapact-api-key': key } },
    stats,
  );
  stats.deleted++;
}

/** Runs `work(job)` over `jobs` with at most `limit` in flight. */
async function pool(jobs, limit, work) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, jobs.length) }, async () => {
    while (next < jobs.length) {
      const job = jobs[next++];
      await work(job);
    }
  });
  await Promise.all(workers);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const body = JSON.parse(await readFile(opts.file, 'utf8'));
  const verifiedAt = new Date().toISOString();
  const mapped = mapCatalog(body, { currency: opts.currency, verifiedAt });
  const mappedAt = performance.now();
  for (const e of mapped.errors) process.stderr.write(`skipped ${e.external_ref ?? '?'}: ${e.error}\n`);
  if (opts.dryRun) {
    process.stdout.write(`${JSON.stringify(mapped.upserts)}\n`);
    return;
  }
  if (opts.client === 'http') client = httpClient(opts.concurrency);
  const key = process.env.SNAPACT_API_KEY;
  if (!key) usage('SNAPACT_API_KEY is not set');
  const stats = { requests: 0, upserted: 0, rejected: 0, deleted: 0, failed: 0 };
  const jobs = [
    ...mapped.upserts.map((item) => () => upsertOne(opts, key, item, stats)),
    ...mapped.deletes.map((ref) => () => deleteOne(opts, key, ref, stats)),
  ];
  let fatal;
  await pool(jobs, opts.concurrency, async (job) => {
    if (fatal) return;
    try {
      await job();
    } catch (e) {
      if (e instanceof Fatal) fatal = e;
      stats.failed++;
      process.stderr.write(`${e.message}\n`);
    }
  });
  const done = performance.now();
  process.stdout.write(
    `${JSON.stringify({
      items: mapped.upserts.length,
      skipped: mapped.errors.length,
      ...stats,
      concurrency: opts.concurrency,
      client: opts.client,
      map_ms: Math.round(mappedAt - started),
      send_ms: Math.round(done - mappedAt),
    })}\n`,
  );
  if (fatal || stats.failed > 0 || stats.rejected > 0) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`${e.stack ?? e}\n`);
  process.exit(1);
});
