#!/usr/bin/env node
// The build step after tsc (`npm run build`): the browser page's bundle and stylesheet into
// dist/web/ (src/web/assets.ts, issue 16), with the sizes on stderr.
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const { writePageAssets } = await import('../dist/web/assets.js');
const r = await writePageAssets();
const gz = gzipSync(readFileSync(join(r.dir, 'app.js')), { level: 9 }).length;
process.stderr.write(`web page: dist/web/app.js ${r.script} B (${(gz / 1024).toFixed(1)} KiB gzipped), app.css ${r.style} B\n`);
