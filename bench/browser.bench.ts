/**
 * Browser benchmark (issue 16): the page's own cost of one decision in headless Chromium (Debian's
 * /usr/bin/chromium driven by playwright-core), measured inside the page with performance.now():
 * seal (ephemeral ML-KEM-768 + P-384 reply key, composite KEM, AES-256-GCM), open, and verify
 * (ML-DSA-87 decision and batch signatures, votes Merkle root, every SPEC §8.10.6 row), each
 * request through the page against a real `local up`; the offline verify of a dropped
 * response.json; and the bundle's size gzipped (level 9). Medians of N (default 15; the first
 * request, with the browser's JIT cold, is included). Targets: seal + verify ≤ 150 ms,
 * app.js ≤ 200 KB gzipped. Writes bench/results/browser-<time>.json.
 *
 *   npm run build && node --import tsx bench/browser.bench.ts [--n 15]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { repoRoot } from '../test/helpers/cli.js';
import { tempDir } from '../test/integration/local/helpers.js';
import { CLEAN_PY, launchChromium, settled, skipReason, startLocalUp } from '../test/browser/helpers.js';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 15;
if (skipReason) {
  process.stderr.write(`browser bench skipped: ${skipReason}\n`);
  process.exit(0);
}

const median = (xs: number[]) => {
  const t = [...xs].sort((a, b) => a - b);
  return t.length % 2 ? t[(t.length - 1) / 2]! : (t[t.length / 2 - 1]! + t[t.length / 2]!) / 2;
};

const tmp = tempDir('ima-browser-bench-');
const up = await startLocalUp(join(tmp.dir, 'state'));
const browser = await launchChromium();
const version = browser.version();
const samples: { seal: number; open: number; verify: number; offline: number }[] = [];
try {
  const page = await browser.newPage();
  await page.goto(`${up.endpoint}/#pin=${up.fingerprint}`);
  await page.waitForSelector('body[data-ready="true"]');
  for (let i = 0; i < N; i++) {
    await page.evaluate(() => document.body.removeAttribute('data-result'));
    await page.fill('#content', `${CLEAN_PY}# request ${i}\n`);
    await page.fill('#file-name', 'app.py');
    await page.click('#send');
    if ((await settled(page)) !== 'decision-approve') throw new Error(`request ${i} did not end in a verified decision`);
    const t = await page.$eval('#timings', (e) => ({ ...(e as HTMLElement).dataset }));
    // the same response, dropped on the page: the offline verify alone
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#response-download')]);
    const file = join(tmp.dir, `r${i}.json`);
    await download.saveAs(file);
    await page.evaluate(() => document.body.removeAttribute('data-result'));
    await page.setInputFiles('#response-file', file);
    await page.click('#verify');
    if ((await settled(page)) !== 'valid') throw new Error(`response ${i} did not verify offline`);
    const offline = Number(await page.getAttribute('#timings', 'data-verify-ms'));
    samples.push({ seal: Number(t.sealMs), open: Number(t.openMs), verify: Number(t.verifyMs), offline });
    process.stderr.write(`  ${i + 1}/${N}: seal ${t.sealMs?.slice(0, 6)} open ${t.openMs?.slice(0, 6)} verify ${t.verifyMs?.slice(0, 6)} offline ${offline.toFixed(1)} ms\n`);
  }
} finally {
  await browser.close();
  await up.stop();
  tmp.cleanup();
}

const js = readFileSync(join(repoRoot, 'dist/web/app.js'));
const css = readFileSync(join(repoRoot, 'dist/web/app.css'));
const gz = (b: Buffer) => gzipSync(b, { level: 9 }).length;
const m = {
  seal: median(samples.map((s) => s.seal)),
  open: median(samples.map((s) => s.open)),
  verify: median(samples.map((s) => s.verify)),
  offline: median(samples.map((s) => s.offline)),
  sealPlusVerify: median(samples.map((s) => s.seal + s.verify)),
  sealOpenVerify: median(samples.map((s) => s.seal + s.open + s.verify)),
};
const result = {
  bench: 'browser',
  chromium: version,
  samples: N,
  medianMs: m,
  firstMs: samples[0],
  bundle: { appJsBytes: js.length, appJsGzipBytes: gz(js), appCssGzipBytes: gz(css) },
  targets: { sealPlusVerifyMs: 150, appJsGzipBytes: 200 * 1024 },
};
process.stdout.write(`
Chromium ${version}, headless, ${N} requests through the page (medians, ms):
  seal ${m.seal.toFixed(1)} · open ${m.open.toFixed(1)} · verify ${m.verify.toFixed(1)} · offline verify (dropped file) ${m.offline.toFixed(1)}
  seal + verify ${m.sealPlusVerify.toFixed(1)} (target ≤ 150) · seal + open + verify ${m.sealOpenVerify.toFixed(1)}
  first request: seal ${samples[0]?.seal.toFixed(1)} · open ${samples[0]?.open.toFixed(1)} · verify ${samples[0]?.verify.toFixed(1)}
  app.js ${js.length} B, ${(gz(js) / 1024).toFixed(1)} KiB gzipped (target ≤ 200 KB); app.css ${(gz(css) / 1024).toFixed(1)} KiB gzipped
`);
mkdirSync(join(repoRoot, 'bench/results'), { recursive: true });
writeFileSync(join(repoRoot, `bench/results/browser-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify(result, null, 2) + '\n');
