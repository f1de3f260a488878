// The browser page in a real Chromium against a real `local up` (issue 16 "Shown by"): an
// approving and a rejecting code analysis, a patents request, a dropped response that verifies
// and a tampered one that does not (the failing row shown), a wrong pin (refused; the service log
// shows no POST), a signed refusal (422) and a forged one, keyboard use, and the strict CSP with no
// violation. Screenshots of each state: .tmp/browser/*.png.
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../integration/local/helpers.js';
import { BAD_PY, CLAIMS, CLEAN_PY, launchChromium, logSince, logSize, settled, shot, skipReason, startLocalUp, type LocalUp } from './helpers.js';

const tmp = tempDir('ima-browser-');
let up: LocalUp;
let browser: Browser;
/** every console message of every page: the CSP must never have refused anything */
const consoleErrors: string[] = [];
let approvedResponse: string | undefined;

async function openPage(hash: string, ctx?: BrowserContext): Promise<Page> {
  const page = await (ctx ?? browser).newPage();
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`));
  await page.goto(`${up.endpoint}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

async function send(page: Page, council: 'analyze' | 'patents', name: string, text: string): Promise<string> {
  await page.check(`input[name="council"][value="${council}"]`);
  await page.fill('#content', text);
  await page.fill('#file-name', name);
  await page.click('#send');
  return settled(page);
}

describe.skipIf(skipReason !== undefined)(`the browser page in Chromium${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    up = await startLocalUp(join(tmp.dir, 'state'));
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await up?.stop();
    tmp.cleanup();
  });

  it('serves the page with its security headers: one script, one stylesheet, no inline code', async () => {
    const res = await fetch(`${up.endpoint}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const html = await res.text();
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="app.js">']);
    expect(html).not.toMatch(/<style|\son[a-z]+\s*=|=\s*["']?javascript:/i);
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/); // no CDN
    const js = await fetch(`${up.endpoint}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  });

  it('an approving code analysis: sealed, sent, opened and verified in the page; every row shown', async () => {
    const page = await openPage(`#pin=${up.fingerprint}`);
    expect(await page.inputValue('#pin')).toBe(up.fingerprint);
    expect(await page.getAttribute('#pin', 'readonly')).not.toBeNull();
    const bodies: Buffer[] = [];
    page.on('request', (r) => r.method() === 'POST' && bodies.push(r.postDataBuffer() ?? Buffer.alloc(0)));
    const result = await send(page, 'analyze', 'app.py', CLEAN_PY);
    // what left the page is the sealed envelope, not the text
    expect(bodies).toHaveLength(1);
    expect(bodies[0]!.subarray(0, 6).toString('latin1')).toBe('IMA-QS');
    expect(bodies[0]!.includes(Buffer.from('Add two numbers'))).toBe(false);
    await shot(page, 'decision-approve');
    expect(result).toBe('decision-approve');
    expect(await page.textContent('#outcome')).toContain('APPROVED');
    expect(await page.getAttribute('#outcome', 'data-verified')).toBe('true');
    expect(await page.locator('#votes tbody tr').count()).toBe(21);
    const rows = await page.$$eval('table.checks tr[data-check]', (trs) => trs.map((t) => [t.getAttribute('data-check'), t.getAttribute('data-status')]));
    const names = rows.map(([n]) => n);
    for (const n of ['signer key', 'decision signature', 'votes root', 'tally', 'payload digest', 'request digest', 'batch signature', 'pcr anchor']) expect(names).toContain(n);
    expect(rows.every(([, s]) => s === 'ok')).toBe(true);
    // the simulated anchor is labelled as such, in words
    expect(await page.textContent('tr[data-check="pcr anchor"]')).toMatch(/SIMULATED/);
    expect(await page.textContent('#result .facts')).toMatch(/SIMULATED bank, signed hash chain, no hardware anchor/);
    // focus moves to the result for keyboard and screen-reader users; the status region says it in words
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('result-h');
    expect(await page.textContent('#status')).toMatch(/^Decision: approve\. \d+ of \d+ checks ok\.$/);
    // the response can be kept: the same document `request -o response.json` writes
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#response-download')]);
    const file = join(tmp.dir, 'response.json');
    await download.saveAs(file);
    approvedResponse = readFileSync(file, 'utf8');
    expect(JSON.parse(approvedResponse).v).toBe(2);
    // one vote alone, in the vote export format, verifies offline in the same page
    await page.selectOption('#vote-persona', 'secrets-scanner');
    await page.click('#vote-export');
    const [voteDownload] = await Promise.all([page.waitForEvent('download'), page.click('#vote-download')]);
    const voteFile = join(tmp.dir, 'vote.json');
    await voteDownload.saveAs(voteFile);
    expect(JSON.parse(readFileSync(voteFile, 'utf8'))).toMatchObject({ format: 'ima-qs/v2/vote', vote: { persona: 'secrets-scanner' } });
    await page.evaluate(() => document.body.removeAttribute('data-result'));
    await page.setInputFiles('#response-file', voteFile);
    await page.click('#verify');
    expect(await settled(page)).toBe('valid');
    expect(await page.textContent('#verdict')).toContain('VALID vote');
    await page.close();
  }, 90_000);

  it('a rejecting code analysis is shown as REJECTED, with its rationales', async () => {
    const page = await openPage(`#pin=${up.fingerprint}`);
    expect(await send(page, 'analyze', 'run.py', BAD_PY)).toBe('decision-reject');
    await shot(page, 'decision-reject');
    expect(await page.textContent('#outcome')).toContain('REJECTED');
    expect(await page.textContent('tr[data-persona="security-auditor"]')).toMatch(/reject/);
    await page.close();
  }, 90_000);

  it('a patents request goes to the patents council', async () => {
    const page = await openPage(`#pin=${up.fingerprint}`);
    const result = await send(page, 'patents', 'claims.txt', CLAIMS);
    await shot(page, 'decision-patents');
    expect(result).toMatch(/^decision-(approve|reject|inconclusive)$/);
    expect(await page.textContent('#result .facts')).toContain('/api/patents');
    expect(await page.locator('#votes tbody tr').count()).toBe(21);
    expect(await page.$$eval('table.checks tr[data-check]', (trs) => trs.every((t) => t.getAttribute('data-status') === 'ok'))).toBe(true);
    await page.close();
  }, 90_000);

  it('verifies a dropped response.json offline; a tampered one fails on the row that was changed', async () => {
    expect(approvedResponse).toBeDefined();
    const page = await openPage(`#pin=${up.fingerprint}`);
    const before = logSize(up);
    await page.setInputFiles('#response-file', { name: 'response.json', mimeType: 'application/json', buffer: Buffer.from(approvedResponse!) });
    await page.click('#verify');
    expect(await settled(page)).toBe('valid');
    await shot(page, 'verify-valid');
    // offline: verifying asked the service for nothing
    expect(logSince(up, before).filter((l) => l.msg === 'http')).toEqual([]);

    const doc = JSON.parse(approvedResponse!);
    doc.votes[3].rationale = 'a rationale the council never gave';
    const tampered = JSON.stringify(doc, null, 2);
    // a real drop: a DataTransfer with the file, dispatched on the drop zone
    const dt = await page.evaluateHandle((text) => {
      const d = new DataTransfer();
      d.items.add(new File([text], 'tampered.json', { type: 'application/json' }));
      return d;
    }, tampered);
    await page.evaluate(() => document.body.removeAttribute('data-result'));
    await page.dispatchEvent('#verify-drop', 'drop', { dataTransfer: dt });
    expect(await settled(page)).toBe('invalid');
    await shot(page, 'verify-tampered');
    expect(await page.getAttribute('#verdict', 'data-valid')).toBe('false');
    expect(await page.textContent('#verdict')).toContain('votes root');
    expect(await page.getAttribute('tr[data-check="votes root"]', 'data-status')).toBe('fail');
    expect(await page.textContent('tr[data-check="votes root"]')).toMatch(/FAIL/);
    // what the document claims is shown as a claim, not as a decision
    expect(await page.getAttribute('#outcome', 'data-verified')).toBe('false');
    expect(await page.textContent('#outcome')).toContain('NOT verified');
    await page.close();
  }, 60_000);

  it('a wrong pin is refused before anything is sealed or sent: no POST reaches the service', async () => {
    const wrong = 'ab'.repeat(32);
    const page = await openPage(`#pin=${wrong}`);
    const posts: string[] = [];
    page.on('request', (r) => r.method() !== 'GET' && posts.push(`${r.method()} ${r.url()}`));
    const before = logSize(up);
    expect(await send(page, 'analyze', 'app.py', CLEAN_PY)).toBe('error');
    await shot(page, 'wrong-pin');
    expect(await page.textContent('#error-code')).toBe('KEYS_DOC_PIN_MISMATCH');
    expect(await page.textContent('#error h2')).toContain('nothing was sent');
    expect(posts).toEqual([]);
    const answered = logSince(up, before).filter((l) => l.msg === 'http');
    expect(answered.map((l) => l.route)).toContain('GET /api/keys'); // the log is live: the keys were fetched
    expect(answered.filter((l) => l.route?.startsWith('POST'))).toEqual([]);
    expect(logSince(up, before).filter((l) => l.msg === 'request queued')).toEqual([]);
    await page.close();
  }, 60_000);

  it('a refusal (422) is shown: signed and verified (REQUEST_REFUSED), or forged (REFUSAL_FORGED)', async () => {
    // a browser clock 10 minutes ahead makes the request stale: the worker refuses it, signed
    const ctx = await browser.newContext();
    const page = await openPage(`#pin=${up.fingerprint}`, ctx);
    await page.clock.install({ time: Date.now() + 10 * 60_000 });
    await page.clock.resume();
    expect(await send(page, 'analyze', 'app.py', CLEAN_PY)).toBe('error');
    await shot(page, 'refusal-signed');
    expect(await page.textContent('#error-code')).toBe('REQUEST_REFUSED');
    expect(await page.textContent('#service-code')).toBe('STALE_REQUEST');
    expect(await page.textContent('#error h2')).toContain('signed and verified');
    await ctx.close();

    // a 422 that the service did not sign (made up between the page and the service)
    const page2 = await openPage(`#pin=${up.fingerprint}`);
    await page2.route('**/api/decisions/**', (route) =>
      route.fulfill({ status: 422, contentType: 'application/json', body: JSON.stringify({ error: { code: 'POLICY', message: 'refused \u202e\u0007 by nobody' } }) }),
    );
    expect(await send(page2, 'analyze', 'app.py', CLEAN_PY)).toBe('error');
    await shot(page2, 'refusal-forged');
    expect(await page2.textContent('#error-code')).toBe('REFUSAL_FORGED');
    expect(await page2.textContent('#error h2')).toContain('NOT signed');
    const message = (await page2.textContent('#error'))!;
    expect(message).not.toMatch(/[\u202e\u0007]/); // the server's words, sanitized
    await page2.close();
  }, 90_000);

  it('works from the keyboard alone, and every field has a label', async () => {
    const page = await openPage(`#pin=${up.fingerprint}`);
    const unlabeled = await page.$$eval('input, textarea, select', (els) =>
      els.filter((e) => !(e as HTMLInputElement).labels?.length && !e.getAttribute('aria-label') && (e as HTMLInputElement).type !== 'radio').map((e) => e.id),
    );
    expect(unlabeled).toEqual([]);
    expect(await page.$$eval('input[type="radio"]', (els) => els.every((e) => (e as HTMLInputElement).labels!.length > 0))).toBe(true);
    await page.focus('#content');
    await page.keyboard.type('def one() -> int:\n    return 1\n');
    // Tab: file chooser, file name, then the send button; Enter sends
    const order: string[] = [];
    for (let i = 0; i < 3; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => document.activeElement?.id ?? ''));
    }
    expect(order).toEqual(['send-file', 'file-name', 'send']);
    await page.keyboard.press('Enter');
    expect(await settled(page)).toMatch(/^decision-/);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('result-h');
    await shot(page, 'keyboard');
    await page.close();
  }, 90_000);

  it('no Content-Security-Policy violation and no script error on any page', () => {
    expect(consoleErrors.filter((m) => /Content Security Policy|pageerror/i.test(m))).toEqual([]);
  });
});
