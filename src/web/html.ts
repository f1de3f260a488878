/**
 * The browser page's HTML and its security headers (issue 16 §1), as pure strings: one HTML file
 * that loads one script (`app.js`, an esbuild bundle of src/web/page/) and one stylesheet
 * (`app.css`), with no inline script or style, no CDN, and a strict Content Security Policy.
 * The proxy handler (GET /), `local up` and `ima-qs package web` all render the page here, with
 * their own configuration: the service endpoint (default: the page's own origin), the pin (only
 * `package web --pin` writes one: otherwise it comes from the link's #pin=… or is typed), and
 * whether the service wants a bearer token.
 *
 * The configuration travels in <meta name="ima-qs-…"> elements, read by the page's script: data,
 * never code, so the policy's `script-src 'self'` holds.
 */

export type PageAuth = 'jwt' | 'none';

export interface PageConfig {
  /** the service base URL when it is not the page's own origin (a static host, issue 16 §3: CORS) */
  endpoint?: string;
  /** the service fingerprint to pin (64 hex); absent: from the link's #pin=… or typed */
  pin?: string;
  /** 'jwt': the page asks for a bearer token (the deployed proxy); 'none': no token field (local up) */
  auth: PageAuth;
  /** shown in the page's title bar and heading (e.g. "local" for local up) */
  label?: string;
}

export const PAGE_FILES = { html: 'index.html', script: 'app.js', style: 'app.css' } as const;

/** The origin of an http(s) endpoint URL, or undefined when it is not one. */
export function endpointOrigin(endpoint: string): string | undefined {
  try {
    const u = new URL(endpoint);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The policy (issue 16 notes): nothing by default; scripts and styles from the page's own origin;
 * fetch only to the service; images from the page or data: URLs; no <base>, no form submission, no
 * framing. `frame-ancestors` is only honoured in a header (a <meta> policy ignores it), so the
 * meta variant leaves it out and the static host should send the header (package web says so).
 */
export function pageCsp(cfg: Pick<PageConfig, 'endpoint'>, where: 'header' | 'meta' = 'header'): string {
  const origin = cfg.endpoint ? endpointOrigin(cfg.endpoint) : undefined;
  const connect = origin ? `'self' ${origin}` : `'self'`;
  const parts = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    `connect-src ${connect}`,
    "img-src 'self' data:",
    "base-uri 'none'",
    "form-action 'none'",
  ];
  if (where === 'header') parts.push("frame-ancestors 'none'");
  return parts.join('; ');
}

/** The headers every file of the page is served with (the proxy, local up; package web lists them for the host). */
export function pageHeaders(cfg: Pick<PageConfig, 'endpoint'>, contentType: string): Record<string, string> {
  return {
    'content-type': contentType,
    'content-security-policy': pageCsp(cfg, 'header'),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-resource-policy': 'same-origin',
    // the page is small and its configuration may change with a restart: revalidate every time
    'cache-control': 'no-cache',
  };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function renderPageHtml(cfg: PageConfig): string {
  const label = cfg.label ? ` (${cfg.label})` : '';
  const meta = (name: string, value: string | undefined) => `<meta name="ima-qs-${name}" content="${escapeHtml(value ?? '')}">`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(pageCsp(cfg, 'meta'))}">
<meta name="referrer" content="no-referrer">
${meta('endpoint', cfg.endpoint)}
${meta('pin', cfg.pin)}
${meta('auth', cfg.auth)}
<title>ima-qs black box${escapeHtml(label)}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${PAGE_FILES.style}">
<script type="module" src="${PAGE_FILES.script}"></script>
</head>
<body>
<a class="skip" href="#send-form">Skip to the request form</a>
<header>
<h1>Quantum-safe black box${escapeHtml(label)}</h1>
<p>Your text is sealed in this page (ML-KEM-768 + P-384) before it leaves it; the signed decision is opened and verified here (ML-DSA-87) against the pin.</p>
</header>
<main>
<noscript><p class="notice">This page needs JavaScript: it seals and verifies in your browser.</p></noscript>

<section aria-labelledby="service-h">
<h2 id="service-h">Service</h2>
<form id="service-form" novalidate>
<dl class="facts">
<dt>Endpoint</dt><dd><output id="endpoint">…</output></dd>
</dl>
<div class="field">
<label for="pin">Pin (the service root fingerprint, 64 hex digits)</label>
<input id="pin" name="pin" type="text" inputmode="text" autocomplete="off" spellcheck="false" maxlength="80" aria-describedby="pin-note">
<p id="pin-note" class="note">Given to you out of band. A mismatch stops everything before your text is sent.</p>
</div>
<div class="field" id="token-field">
<label for="token">Access token (JWT)</label>
<input id="token" name="token" type="password" autocomplete="off" spellcheck="false" aria-describedby="token-note">
<p id="token-note" class="note">Sent as <code>Authorization: Bearer …</code>; kept only while this page is open, never stored.</p>
</div>
</form>
</section>

<section aria-labelledby="send-h">
<h2 id="send-h">Send a request</h2>
<form id="send-form" novalidate>
<fieldset>
<legend>Council</legend>
<label class="choice"><input type="radio" name="council" value="analyze" checked> Code analysis</label>
<label class="choice"><input type="radio" name="council" value="patents"> Patents</label>
</fieldset>
<div class="field">
<label for="content">Text to judge</label>
<textarea id="content" name="content" rows="12" spellcheck="false" aria-describedby="content-note"></textarea>
<p id="content-note" class="note">Paste text, or drop a file on this box, or choose one below (UTF-8 text, at most 96 KiB).</p>
</div>
<div class="field">
<label for="send-file">File</label>
<input id="send-file" name="send-file" type="file">
</div>
<div class="field">
<label for="file-name">File name</label>
<input id="file-name" name="file-name" type="text" autocomplete="off" spellcheck="false" maxlength="255" value="pasted.txt">
</div>
<div class="actions">
<button id="send" type="submit">Seal and send</button>
<button id="cancel" type="button" disabled>Cancel</button>
</div>
</form>
<div id="progress" class="progress" hidden>
<progress id="progress-bar" aria-labelledby="progress-text"></progress>
<p id="progress-text"></p>
<ol id="steps"></ol>
</div>
</section>

<section aria-labelledby="verify-h">
<h2 id="verify-h">Verify a response</h2>
<form id="verify-form" novalidate>
<div class="field drop" id="verify-drop">
<label for="response-file">response.json or vote.json</label>
<input id="response-file" name="response-file" type="file" accept=".json,application/json" aria-describedby="verify-note">
<p id="verify-note" class="note">Or drop it on this box. Checked here, offline, against the pin: nothing is sent.</p>
</div>
<div class="field">
<label for="sent-file">The file that was sent (optional: checks the payload digest)</label>
<input id="sent-file" name="sent-file" type="file">
</div>
<div class="actions"><button id="verify" type="submit">Verify</button></div>
</form>
</section>

<div id="status" class="visually-hidden" role="status" aria-live="polite"></div>
<div id="error" class="error" role="alert" hidden></div>
<section id="result" aria-labelledby="result-h" hidden>
<h2 id="result-h" tabindex="-1">Result</h2>
<div id="result-body"></div>
</section>
</main>
</body>
</html>
`;
}
