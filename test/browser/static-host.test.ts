// The page as `ima-qs package web` writes it, on another origin (a static host here on loopback)
// calling a `local up --cors` service (issue 16 §3): the allowed origin decides end to end through
// the preflight; a pin in the link that differs from the configured one is refused before any
// request; an origin the service does not name is refused (403) and nothing is posted.
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../integration/local/helpers.js';
import { CLEAN_PY, launchChromium, logSince, logSize, settled, shot, skipReason, startLocalUp, staticHost, type LocalUp } from './helpers.js';

const tmp = tempDir('ima-browser-static-');
let up: LocalUp;
let browser: Browser;
let allowed: Awaited<ReturnType<typeof staticHost>>;
let other: Awaited<ReturnType<typeof staticHost>>;
let jwtSite: Awaited<ReturnType<typeof staticHost>>;
let headers: Record<string, string> = {};
const consoleErrors: string[] = [];

async function open(url: string): Promise<{ page: Page; requests: string[] }> {
  const page = await browser.newPage();
  const requests: string[] = [];
  page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return { page, requests };
}

describe.skipIf(skipReason !== undefined)(`package web on a static host, CORS to local up${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  beforeAll(async () => {
    allowed = await staticHost(join(tmp.dir, 'site'), () => headers);
    other = await staticHost(join(tmp.dir, 'site'), () => headers);
    jwtSite = await staticHost(join(tmp.dir, 'jwt-site'), () => headers);
    up = await startLocalUp(join(tmp.dir, 'state'), ['--cors', allowed.origin, '--cors', jwtSite.origin]);
    const r = await runCli(['package', 'web', '-o', join(tmp.dir, 'site'), '--endpoint', up.endpoint, '--pin', up.fingerprint, '--auth', 'none', '--json']);
    expect(r.code, r.stderr).toBe(0);
    headers = r.json().headers;
    // the deployed proxy's kind of page: no pin configured, a bearer token asked for
    const j = await runCli(['package', 'web', '-o', join(tmp.dir, 'jwt-site'), '--endpoint', up.endpoint, '--json']);
    expect(j.code, j.stderr).toBe(0);
    expect(headers['content-security-policy']).toContain(`connect-src 'self' ${up.endpoint}`);
    browser = await launchChromium();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await up?.stop();
    await allowed?.close();
    await other?.close();
    await jwtSite?.close();
    tmp.cleanup();
  });

  it('an allowed origin seals, sends (after the preflight) and verifies; the pin comes from the configuration', async () => {
    const { page, requests } = await open(`${allowed.origin}/`);
    expect(await page.inputValue('#pin')).toBe(up.fingerprint);
    expect(await page.textContent('#pin-note')).toContain("page's configuration");
    const before = logSize(up);
    await page.fill('#content', CLEAN_PY);
    await page.fill('#file-name', 'app.py');
    await page.click('#send');
    expect(await settled(page)).toBe('decision-approve');
    await shot(page, 'static-host-cors');
    const routes = logSince(up, before).filter((l) => l.msg === 'http').map((l) => `${l.route} ${l.status}`);
    expect(routes).toContain('OPTIONS /api/analyze 204');
    expect(routes).toContain('POST /api/analyze 202');
    // the page talked to its own origin and the service, nothing else
    expect(requests.every((r) => r.includes(allowed.origin) || r.includes(up.endpoint))).toBe(true);
    await page.close();
  }, 90_000);

  it("a link whose pin is not the configured one is refused before any request to the service", async () => {
    const { page, requests } = await open(`${allowed.origin}/#pin=${'cd'.repeat(32)}`);
    await page.fill('#content', CLEAN_PY);
    await page.click('#send');
    expect(await settled(page)).toBe('error');
    await shot(page, 'pin-conflict');
    expect(await page.textContent('#error-code')).toBe('PIN_CONFLICT');
    expect(requests.filter((r) => r.includes(up.endpoint))).toEqual([]);
    await page.close();
  }, 60_000);

  it('an origin the service does not name is refused: 403, and no POST reaches it', async () => {
    const { page } = await open(`${other.origin}/`);
    const before = logSize(up);
    await page.fill('#content', CLEAN_PY);
    await page.click('#send');
    expect(await settled(page)).toBe('error');
    await shot(page, 'cors-refused');
    // the browser withholds a refused cross-origin answer: the page sees no answer at all
    expect(await page.textContent('#error-code')).toBe('ENDPOINT_UNREACHABLE');
    const routes = logSince(up, before).filter((l) => l.msg === 'http');
    expect(routes.map((l) => `${l.route} ${l.status}`)).toEqual(['GET /api/keys 403']);
    await page.close();
  }, 60_000);

  it('auth=jwt: a token is required, sent as Authorization: Bearer (the preflight allows it), and never stored', async () => {
    const { page } = await open(`${jwtSite.origin}/#pin=${up.fingerprint}`);
    expect(await page.isVisible('#token')).toBe(true);
    expect(await page.getAttribute('#token', 'type')).toBe('password');
    await page.fill('#content', CLEAN_PY);
    await page.click('#send');
    expect(await settled(page)).toBe('error');
    expect(await page.textContent('#error-code')).toBe('TOKEN_REQUIRED');
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ0ZXN0In0.c2lnbmF0dXJl';
    const auth: string[] = [];
    page.on('request', (r) => r.url().startsWith(up.endpoint) && r.method() !== 'OPTIONS' && auth.push(r.headers().authorization ?? '(none)'));
    await page.fill('#token', token);
    await page.evaluate(() => document.body.removeAttribute('data-result'));
    await page.click('#send');
    expect(await settled(page)).toBe('decision-approve');
    await shot(page, 'static-host-jwt');
    expect(auth.length).toBeGreaterThanOrEqual(3); // keys, post, poll(s)
    expect(new Set(auth)).toEqual(new Set([`Bearer ${token}`]));
    const stored = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
    expect(stored).not.toContain(token);
    await page.close();
  }, 90_000);

  it('no CSP violation on the static host either', () => {
    expect(consoleErrors.filter((m) => /Content Security Policy/i.test(m))).toEqual([]);
  });
});
