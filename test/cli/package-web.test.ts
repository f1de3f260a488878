// `ima-qs package web` (issue 16): the page as a folder for a static host — index.html configured
// with the endpoint, pin and auth it is given (a meta policy whose connect-src is the endpoint),
// app.js and app.css as built — and the headers the host should send. Bad options are exit 2.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../integration/local/helpers.js';

const tmp = tempDir('ima-package-web-');
afterAll(() => tmp.cleanup());
const PIN = 'ab'.repeat(32);

describe('package web', () => {
  it('writes index.html, app.js and app.css configured for the endpoint, and lists the headers', async () => {
    const out = join(tmp.dir, 'site');
    const r = await runCli(['package', 'web', '-o', out, '--endpoint', 'https://api.example.com/', '--pin', `SHA3-256:${PIN.toUpperCase()}`, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = r.json();
    expect(doc).toMatchObject({ ok: true, artifact: 'web', config: { auth: 'jwt', endpoint: 'https://api.example.com', pin: PIN } });
    expect(doc.files.map((f: { name: string }) => f.name)).toEqual(['index.html', 'app.js', 'app.css']);
    expect(doc.scriptGzipBytes).toBeGreaterThan(0);
    expect(doc.headers['content-security-policy']).toContain("connect-src 'self' https://api.example.com; ");
    expect(doc.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<meta name="ima-qs-endpoint" content="https://api.example.com">');
    expect(html).toContain(`<meta name="ima-qs-pin" content="${PIN}">`);
    expect(html).toContain('<meta name="ima-qs-auth" content="jwt">');
    expect(html).toContain(`content="${doc.metaCsp.replace(/'/g, '&#39;')}"`);
    expect(doc.metaCsp).not.toContain('frame-ancestors');
    expect(readFileSync(join(out, 'app.js')).length).toBe(doc.files[1].bytes);
  });

  it.each([
    [['--endpoint', 'http://api.example.com'], 'BAD_ENDPOINT'],
    [['--endpoint', 'https://u:p@api.example.com'], 'BAD_ENDPOINT'],
    [['--endpoint', 'not a url'], 'BAD_ENDPOINT'],
    [['--pin', 'abc'], 'BAD_PIN'],
    [['--auth', 'basic'], 'BAD_OPTION'],
  ])('%j → exit 2 %s', async (flags, code) => {
    const r = await runCli(['package', 'web', '-o', join(tmp.dir, 'bad'), ...flags, '--json']);
    expect(r.code).toBe(2);
    expect(r.json().error.code).toBe(code);
  });
});
