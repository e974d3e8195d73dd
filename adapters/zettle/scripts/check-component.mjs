// Runs the golden fixtures against a *built* component without the host:
// `jco transpile` (installed with componentize-js) turns the component into
// an ES module, the four WIT imports are shimmed, and each fixture's output
// is compared with NAME.expected.json, as `snapact-host adapter test` does.
//
//   node scripts/check-component.mjs [path/to/adapter.wasm]
//
// A development aid for adapter authors; the host's conformance suite is
// the check that counts.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';

import { fixture, fixtureNames, render } from '../test/support.js';

const here = dirname(fileURLToPath(import.meta.url));
const wasm = resolve(process.argv[2] ?? join(here, '..', '..', '..', 'target', 'adapters', 'zettle', 'adapter.wasm'));
const out = mkdtempSync(join(tmpdir(), 'zettle-component-'));
try {
  writeFileSync(join(out, 'shim.js'), `
export const settings = { get: (k) => globalThis.__settings?.[k] };
export const log = { log: () => {} };
export const signatures = { verifyHmac: () => false, secretEquals: () => false };
export const posHttp = { send: () => { const e = new Error('denied'); e.payload = { tag: 'denied', val: 'no HTTP in fixture checks' }; throw e; } };
`);
  const maps = ['settings', 'log', 'signatures', 'pos-http'].flatMap((i) => [
    '--map', `snapact:adapter/${i}@0.1.0=../shim.js#${i === 'pos-http' ? 'posHttp' : i}`,
  ]);
  execFileSync(join(here, '..', 'node_modules', '.bin', 'jco'), ['transpile', wasm, '--name', 'adapter', '-o', join(out, 'm'), ...maps], { stdio: 'ignore' });
  const url = pathToFileURL(join(out, 'm', 'adapter.js')).href;
  let failed = 0;
  let passed = 0;
  for (const name of fixtureNames()) {
    const f = fixture(name);
    globalThis.__settings = f.settings;
    // A fresh instance per fixture, as the host gives each call.
    const { posAdapter } = await import(`${url}?${name}`);
    let got;
    try {
      const m = posAdapter.mapRecords(new Uint8Array(f.input), 'application/json');
      got = m.rejected.length
        ? { changes: m.changes.map(render), rejected: m.rejected.map((r) => ({ record_id: r.recordId ?? null, path: r.path ?? null })) }
        : m.changes.map(render);
    } catch (e) {
      got = e.payload ? { error: { kind: e.payload.tag, path: e.payload.val?.path } } : `trap: ${e}`;
    }
    if (isDeepStrictEqual(got, f.expected)) {
      passed++;
      console.log(`ok   ${name}`);
    } else {
      failed++;
      console.log(`FAIL ${name}\n     got ${JSON.stringify(got).slice(0, 500)}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
