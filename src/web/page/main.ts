/**
 * The browser page (issue 16): seal, send, long-poll, open and verify one request with
 * `BlackBoxClient` (pure JS: the noble provider), or verify a dropped response.json / vote.json
 * offline. Bundled by esbuild into app.js (src/web/assets.ts); its HTML is src/web/html.ts.
 *
 * Trust lives in ./trust.ts (the pin's sources and the calls that use it). The token, when the
 * service wants one, stays in the password field's memory: never stored, never logged.
 */
import type { BlackBoxClient, ClientPhase, ClientResult } from '../../client/black-box-client.js';
import { nobleProvider } from '../../crypto/provider-noble.js';
import { ImaError, InputError, UsageError } from '../../errors.js';
import { payloadDigest } from '../../protocol/decision-v2.js';
import type { DecisionResponseV2 } from '../../protocol/decision-v2.js';
import type { ResponseCheck } from '../../protocol/response-verify.js';
import { anchorLabel, isV2, responseView, type AnyResponse } from '../../protocol/response-view.js';
import { parseStrictJson } from '../../protocol/strict-json.js';
import { exportVote } from '../../protocol/vote-proof.js';
import { $, checksTable, downloadLink, el, factsList, outcomeBanner, revokeDownloads, safe, tallyTable, votesTable } from './render.js';
import { onPhase, phaseSpans, resetTimings, showSteps, startProgress, stopProgress } from './progress.js';
import { choosePin, clientFor, pinFromFragment, verifyDocument, type PinChoice } from './trust.js';

/** SPEC §1.6: the request file limit (`request analyze FILE`), the response file limit (`verify`). */
const MAX_REQUEST_BYTES = 96 * 1024;
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** the whole request, council included, before the page gives up (the client's deadline) */
const REQUEST_TIMEOUT_MS = 120_000;

const meta = (name: string): string | undefined => document.querySelector<HTMLMetaElement>(`meta[name="ima-qs-${name}"]`)?.content.trim() || undefined;

const config = {
  endpoint: meta('endpoint') ?? (location.origin !== 'null' ? location.origin : undefined),
  pin: meta('pin'),
  auth: meta('auth') === 'none' ? ('none' as const) : ('jwt' as const),
};

// ---- the pin field: filled and locked when the configuration or the link gives the pin ----

const SOURCE_NOTE: Record<PinChoice['source'], string> = {
  configuration: "From the page's configuration.",
  link: 'From the link (#pin=…): never sent to any server.',
  typed: '',
};

function currentPin(): PinChoice {
  return choosePin({ configured: config.pin, fragment: pinFromFragment(location.hash), typed: $<HTMLInputElement>('pin').value });
}

function initPin(): void {
  const input = $<HTMLInputElement>('pin');
  const note = $('pin-note');
  const fragment = pinFromFragment(location.hash);
  input.readOnly = false;
  note.textContent = 'Given to you out of band. A mismatch stops everything before your text is sent.';
  if (!config.pin && !fragment) return;
  try {
    const c = choosePin({ configured: config.pin, fragment });
    input.value = c.pin;
    input.readOnly = true;
    note.textContent = `${SOURCE_NOTE[c.source]} A mismatch stops everything before your text is sent.`;
  } catch (err) {
    showError(err);
  }
}

// ---- state: one operation at a time ----

let running: AbortController | undefined;
const clients = new Map<string, BlackBoxClient>();

/** localStorage, where the page may use it (the highest key-set generation seen per root survives a reload). */
function browserStorage(): Storage | undefined {
  try {
    return globalThis.localStorage ?? undefined;
  } catch {
    return undefined;
  }
}

function setBusy(busy: boolean): void {
  $<HTMLButtonElement>('send').disabled = busy;
  $<HTMLButtonElement>('verify').disabled = busy;
  $<HTMLButtonElement>('cancel').disabled = !busy;
  $('progress').setAttribute('aria-busy', String(busy));
  document.body.dataset.state = busy ? 'busy' : 'idle';
}

function announce(text: string): void {
  $('status').textContent = text;
}

function clearOutput(): void {
  revokeDownloads();
  const error = $('error');
  error.hidden = true;
  error.replaceChildren();
  $('result').hidden = true;
  $('result-body').replaceChildren();
  delete document.body.dataset.result;
}

// ---- errors: the code, and the message made safe ----

function showError(err: unknown, checks?: ResponseCheck[]): void {
  const e = err instanceof ImaError ? err : undefined;
  const code = e?.code ?? 'INTERNAL';
  const box = $('error');
  const title: Record<string, string> = {
    REQUEST_REFUSED: 'The service refused the request (its refusal is signed and verified)',
    REFUSAL_FORGED: 'Refusal NOT signed by the pinned service: do not trust it',
    KEYS_DOC_PIN_MISMATCH: 'Not the service you pinned: nothing was sent',
    PIN_CONFLICT: 'Two different pins: nothing was sent',
    RESPONSE_INVALID: 'The decision does not verify',
    REQUEST_ABORTED: 'Cancelled',
  };
  const serviceCode = typeof e?.details?.serviceCode === 'string' ? e.details.serviceCode : undefined;
  const parts: Node[] = [
    el('h2', {}, title[code] ?? 'Error'),
    el('p', {}, el('code', { id: 'error-code' }, safe(code, 64)), ': ', el('span', { id: 'error-message' }, safe(e?.message ?? (err as Error)?.message ?? err, 600))),
  ];
  if (serviceCode) parts.push(el('p', {}, 'Service code: ', el('code', { id: 'service-code' }, safe(serviceCode, 64))));
  if (e?.hint) parts.push(el('p', { class: 'hint' }, 'Hint: ', safe(e.hint, 400)));
  if (checks) parts.push(checksTable(checks, 'Checks of the answer'));
  box.replaceChildren(...parts);
  box.hidden = false;
  box.dataset.code = code;
  document.body.dataset.result = 'error';
  announce(`${title[code] ?? 'Error'}: ${safe(code, 64)}`);
}

// ---- results ----


function showResult(parts: (Node | false | undefined)[], summary: string, result: string): void {
  $('result-body').replaceChildren(...parts.filter((x): x is Node => Boolean(x)));
  $('result').hidden = false;
  document.body.dataset.result = result;
  announce(summary);
  $('result-h').focus();
}

function voteExport(r: AnyResponse): HTMLElement | undefined {
  if (!isV2(r)) return undefined;
  const select = el('select', { id: 'vote-persona' }, ...r.votes.map((v) => el('option', { value: v.persona }, safe(v.persona, 80))));
  const holder = el('span', {});
  const button = el('button', { type: 'button', id: 'vote-export' }, 'Prepare vote.json');
  button.addEventListener('click', () => {
    const doc = exportVote(nobleProvider, r as DecisionResponseV2, select.value);
    if (doc) holder.replaceChildren(downloadLink(JSON.stringify(doc, null, 2) + '\n', `vote-${select.value}.json`, `Download vote-${select.value}.json`, 'vote-download'));
  });
  return el('div', { class: 'field' }, el('label', { for: 'vote-persona' }, 'One vote with its inclusion proof'), select, ' ', button, ' ', holder);
}

function decisionParts(r: AnyResponse, checks: ResponseCheck[], extra: [string, string][], verified: boolean) {
  const view = responseView(r);
  return [
    outcomeBanner(view.outcome, verified),
    factsList([
      ['Route', `/api/${safe(view.route, 20)}`],
      ['Request digest', safe(view.requestDigest, 64)],
      ['Signed by', safe(view.signer, 64)],
      ['Audit anchor', safe(anchorLabel(view.anchor), 200)],
      ['Format', `response v${view.version}`],
      ...extra,
    ]),
    tallyTable(view.tally),
    checksTable(checks, 'Verification (every row checked in this browser)'),
    votesTable(view.votes),
  ];
}

function showDecision(res: ClientResult, name: string, pin: PinChoice): void {
  const { keys, seal, open, verify } = phaseSpans();
  const f = (x?: number) => (x === undefined ? '—' : `${x.toFixed(1)} ms`);
  const timingText = `keys ${f(keys)} · seal ${f(seal)} · open ${f(open)} · verify ${f(verify)}`;
  const timingsEl = el('p', { id: 'timings', class: 'note' }, `In this browser: ${timingText}; service ${res.serviceMs} ms, ${res.polls} poll(s).`);
  // the bench reads these (bench/browser.bench.ts): performance.now() differences in ms, the
  // library's work only (this page's rendering between phases is not in them)
  if (seal !== undefined) timingsEl.dataset.sealMs = String(seal);
  if (open !== undefined) timingsEl.dataset.openMs = String(open);
  if (verify !== undefined) timingsEl.dataset.verifyMs = String(verify);
  if (keys !== undefined) timingsEl.dataset.keysMs = String(keys);
  const view = responseView(res.response);
  const okRows = res.checks.filter((c) => c.status === 'ok').length;
  showResult(
    [
      ...decisionParts(
        res.response,
        res.checks,
        [
          ['File', safe(name, 255)],
          ['Pin', `${pin.pin} (${pin.source})`],
        ],
        true,
      ),
      timingsEl,
      el('p', { class: 'actions' }, downloadLink(JSON.stringify(res.response, null, 2) + '\n', 'response.json', 'Download response.json', 'response-download')),
      voteExport(res.response),
    ],
    `Decision: ${view.outcome}. ${okRows} of ${res.checks.length} checks ok.`,
    `decision-${view.outcome}`,
  );
}

// ---- actions ----

async function readText(file: File, max: number, what: string): Promise<string> {
  if (file.size > max) throw new InputError('INPUT_TOO_LARGE', `${safe(file.name, 100)} is ${file.size} bytes; ${what} is at most ${max}`);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(await file.arrayBuffer());
  } catch {
    throw new InputError('NOT_TEXT', `${safe(file.name, 100)} is not UTF-8 text`);
  }
}

async function guarded(label: string, op: (signal: AbortSignal) => Promise<void>): Promise<void> {
  if (running) return;
  clearOutput();
  running = new AbortController();
  setBusy(true);
  announce(label);
  try {
    await op(running.signal);
  } catch (err) {
    stopProgress(false);
    const phase = document.body.dataset.phase as ClientPhase | undefined;
    if (phase && !$('progress').hidden) {
      showSteps(phase, true);
      $('progress-text').textContent = 'Stopped.';
    }
    const checks = err instanceof ImaError && Array.isArray(err.details?.checks) ? (err.details.checks as ResponseCheck[]) : undefined;
    showError(err, checks);
  } finally {
    running = undefined;
    setBusy(false);
  }
}

function send(): Promise<void> {
  return guarded('Sealing and sending…', async (signal) => {
    resetTimings();
    delete document.body.dataset.phase;
    $('progress').hidden = true;
    // Precondition: the pin is settled before anything is fetched or sent
    const pin = currentPin();
    if (!config.endpoint) throw new UsageError('NO_ENDPOINT', 'this page has no service endpoint configured', { hint: 'ima-qs package web --endpoint URL' });
    const route = (document.querySelector<HTMLInputElement>('input[name="council"]:checked')?.value ?? 'analyze') as 'analyze' | 'patents';
    const content = $<HTMLTextAreaElement>('content').value;
    const name = $<HTMLInputElement>('file-name').value.trim() || 'pasted.txt';
    if (content.length === 0) throw new UsageError('EMPTY_TEXT', 'there is no text to send: paste some or choose a file');
    if (new TextEncoder().encode(content).length > MAX_REQUEST_BYTES) throw new InputError('INPUT_TOO_LARGE', `the text is larger than ${MAX_REQUEST_BYTES} bytes`);
    const token = config.auth === 'jwt' ? $<HTMLInputElement>('token').value.trim() || undefined : undefined;
    if (config.auth === 'jwt' && !token) throw new UsageError('TOKEN_REQUIRED', 'this service needs an access token (JWT): paste it into the token field');
    const key = `${pin.pin}|${token ?? ''}`;
    let client = clients.get(key);
    if (!client) {
      clients.clear();
      client = clientFor(pin, {
        endpoint: config.endpoint,
        token,
        provider: nobleProvider,
        timeoutMs: REQUEST_TIMEOUT_MS,
        onProgress: (p) => {
          document.body.dataset.phase = p.phase;
          onPhase(p.phase, p.elapsedMs, p.polls);
        },
      }, browserStorage());
      clients.set(key, client);
    }
    startProgress('Starting…');
    const res = await client.request(route, { name, content }, signal);
    stopProgress(true);
    showSteps('done');
    $('progress-text').textContent = `Decided in ${(res.totalMs / 1000).toFixed(1)} s.`;
    showDecision(res, name, pin);
  });
}

function verifyDropped(file: File | undefined): Promise<void> {
  return guarded('Verifying…', async () => {
    $('progress').hidden = true;
    delete document.body.dataset.phase;
    const pin = currentPin();
    if (!file) throw new UsageError('NO_FILE', 'choose or drop a response.json first');
    const text = await readText(file, MAX_RESPONSE_BYTES, 'a response');
    let doc: unknown;
    try {
      doc = parseStrictJson(text);
    } catch (err) {
      throw new InputError('NOT_JSON', `${safe(file.name, 100)} is not JSON: ${safe((err as Error).message, 200)}`);
    }
    const sent = $<HTMLInputElement>('sent-file').files?.[0];
    const digest = sent ? payloadDigest(nobleProvider, { name: sent.name, content: await readText(sent, MAX_REQUEST_BYTES, 'a request') }) : undefined;
    const t0 = performance.now();
    const v = verifyDocument(nobleProvider, doc, pin, digest);
    const took = performance.now() - t0;
    const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
    const verdict = el(
      'p',
      { class: `verdict ${v.ok ? 'verdict-valid' : 'verdict-invalid'}`, id: 'verdict', 'data-valid': String(v.ok) },
      v.ok ? `✓ VALID ${v.kind}` : `✗ NOT VALID: ${failed.map((f) => safe(f, 60)).join(', ')}`,
    );
    const timingEl = el('p', { id: 'timings', class: 'note', 'data-verify-ms': String(took) }, `Verified in this browser in ${took.toFixed(1)} ms (${safe(file.name, 100)}, pin from ${pin.source}).`);
    const formatOk = v.checks.find((c) => c.name === 'format')?.ok === true;
    const parts: (Node | undefined)[] = [verdict];
    if (formatOk && v.kind === 'response') {
      parts.push(...decisionParts(doc as AnyResponse, v.checks, [['File', safe(file.name, 255)]], v.ok));
    } else {
      parts.push(checksTable(v.checks, 'Verification (every row checked in this browser)'));
    }
    parts.push(timingEl);
    showResult(parts, v.ok ? `Valid ${v.kind}: ${v.checks.length} checks.` : `Not valid: ${failed.join(', ')}.`, v.ok ? 'valid' : 'invalid');
  });
}

// ---- wiring ----

function dropTarget(zone: HTMLElement, onFile: (f: File) => void): void {
  zone.addEventListener('dragover', (e) => {
    e.preventDefault();
    zone.classList.add('dragging');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('dragging'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('dragging');
    const f = e.dataTransfer?.files?.[0];
    if (f) onFile(f);
  });
}

async function loadIntoTextarea(file: File): Promise<void> {
  try {
    $<HTMLTextAreaElement>('content').value = await readText(file, MAX_REQUEST_BYTES, 'a request');
    $<HTMLInputElement>('file-name').value = file.name.slice(0, 255) || 'request.txt';
    announce(`Loaded ${safe(file.name, 100)}.`);
  } catch (err) {
    showError(err);
  }
}

function start(): void {
  $('endpoint').textContent = config.endpoint ?? '(none configured)';
  const tokenField = $('token-field');
  tokenField.hidden = config.auth === 'none';
  initPin();
  window.addEventListener('hashchange', () => {
    clearOutput();
    initPin();
  });
  // a file dropped anywhere else must not make the browser navigate away from the page
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  // Enter in the pin or token field submits nothing (form-action 'none' would refuse it anyway)
  $('service-form').addEventListener('submit', (e) => e.preventDefault());
  $('send-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  $('cancel').addEventListener('click', () => running?.abort('cancelled by the user'));
  $<HTMLInputElement>('send-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadIntoTextarea(f);
  });
  dropTarget($('content'), (f) => void loadIntoTextarea(f));

  const responseInput = $<HTMLInputElement>('response-file');
  $('verify-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void verifyDropped(responseInput.files?.[0]);
  });
  dropTarget($('verify-drop'), (f) => void verifyDropped(f));
  setBusy(false);
  document.body.dataset.ready = 'true';
}

start();
