// The page's HTML, policy and served files (src/web/html.ts, site.ts), and its bundle: browser
// platform, no node: module in its graph, within the size target (issue 16: ≤ 200 KB gzipped).
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadEsbuild } from '../../../src/package/bundle.js';
import { bundlePage } from '../../../src/web/assets.js';
import { pageCsp, pageHeaders, renderPageHtml } from '../../../src/web/html.js';
import { servedPage } from '../../../src/web/site.js';
import { repoRoot } from '../../helpers/cli.js';

describe('the page HTML and its policy', () => {
  it('connect-src is the page itself and the configured endpoint origin only', () => {
    expect(pageCsp({})).toBe("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    expect(pageCsp({ endpoint: 'https://api.example.com/base/' })).toContain("connect-src 'self' https://api.example.com;");
    // a <meta> policy cannot carry frame-ancestors (browsers ignore it there)
    expect(pageCsp({}, 'meta')).not.toContain('frame-ancestors');
  });

  it('renders one module script and one stylesheet from its own origin, and escapes its configuration', () => {
    const html = renderPageHtml({ auth: 'jwt', endpoint: 'https://x.example/"><script>alert(1)</script>', pin: 'a'.repeat(64) });
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="app.js">']);
    expect(html.match(/<link rel="stylesheet"[^>]*>/g)).toEqual(['<link rel="stylesheet" href="app.css">']);
    expect(html).toContain('content="https://x.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(html).toContain(`<meta name="ima-qs-pin" content="${'a'.repeat(64)}">`);
    expect(html).not.toMatch(/<style|\son[a-z]+\s*=/i);
    // every form control has a label (the browser test checks the live page too)
    for (const id of ['pin', 'token', 'content', 'send-file', 'file-name', 'response-file', 'sent-file']) expect(html).toContain(`<label for="${id}">`);
  });

  it('serves /, /index.html, /app.js and /app.css with the security headers', () => {
    const page = servedPage({ script: new TextEncoder().encode('export {};'), style: new TextEncoder().encode('body{}') }, { auth: 'none' });
    expect(Object.keys(page).sort()).toEqual(['/', '/app.css', '/app.js', '/index.html']);
    for (const f of Object.values(page)) {
      expect(f.headers).toMatchObject({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', 'content-security-policy': pageCsp({}) });
    }
    expect(page['/app.js']!.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(page['/']!.body).toContain('<meta name="ima-qs-auth" content="none">');
    expect(pageHeaders({}, 'text/css')['content-type']).toBe('text/css');
  });
});

describe('the page bundle', () => {
  it('bundles for browsers with no node: module, and stays under 200 KB gzipped', async () => {
    const { script, inputs } = await bundlePage(await loadEsbuild(), repoRoot);
    const text = new TextDecoder().decode(script);
    expect(text).not.toMatch(/["']node:/);
    expect(inputs.some((f) => f.endsWith('src/client/black-box-client.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/protocol/response-verify.ts'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('src/web/page/trust.ts'))).toBe(true);
    expect(inputs.some((f) => /src\/(aws|commands|local|service\/(proxy|worker))\//.test(f) || f.endsWith('provider-node.ts'))).toBe(false);
    // the verifiers need the council rosters only, not the rule engine (re2js alone is ~150 KB)
    expect(inputs.filter((f) => /re2js|council\/(councils|matcher|rules-)/.test(f))).toEqual([]);
    expect(gzipSync(script, { level: 9 }).length).toBeLessThanOrEqual(200 * 1024);
  }, 30_000);
});
