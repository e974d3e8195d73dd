// Golden fixtures, checked the way `snapact-host adapter test` checks them,
// against the adapter's JavaScript run natively (the component runs the same
// code; the conformance suite checks the built component).

import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as core from '../src/core.js';
import { fakeHost, fixture, fixtureNames, render } from './support.js';

const names = fixtureNames();

test('there are golden fixtures', () => {
  assert.ok(names.length >= 3, `expected at least 3 fixtures, found ${names.length}`);
});

for (const name of names) {
  test(`fixture ${name}`, () => {
    const f = fixture(name);
    assert.ok(f.expected !== undefined, `${name}.expected.json is missing`);
    const run = () => core.mapRecords(fakeHost({ settings: f.settings }), f.input, 'application/json');
    if (!Array.isArray(f.expected) && f.expected.error) {
      assert.throws(run, (e) => {
        assert.equal(e.variant.tag, f.expected.error.kind);
        if ('path' in f.expected.error) assert.equal(e.variant.val.path, f.expected.error.path);
        return true;
      });
      return;
    }
    const m = run();
    if (Array.isArray(f.expected)) {
      assert.deepEqual(m.changes.map(render), f.expected);
      assert.deepEqual(m.rejected, [], 'unexpected rejections');
    } else {
      assert.deepEqual(m.changes.map(render), f.expected.changes);
      assert.equal(m.rejected.length, f.expected.rejected.length);
      f.expected.rejected.forEach((want, i) => {
        const got = { record_id: m.rejected[i].recordId ?? null, path: m.rejected[i].path ?? null, message: m.rejected[i].message };
        for (const k of Object.keys(want)) assert.deepEqual(got[k], want[k], `rejected[${i}].${k}`);
      });
    }
  });
}
