/**
 * DOM rendering of the page's results (issue 16 §1, §4): built with createElement and
 * textContent only — a server's or a document's words never become markup — and every state
 * says what it is in words (ok / FAIL / not checked), colour only repeats it.
 */
import { printable } from '../../client/http-answer.js';
import type { ResponseCheck } from '../../protocol/response-verify.js';
import type { ResponseView } from '../../protocol/response-view.js';

type Child = Node | string | undefined | false;

/** The page's element with this id (the HTML of src/web/html.ts has every one the script uses). */
export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`the page has no #${id}`);
  return e as T;
};

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== undefined && c !== false) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

/** Text from a document or a server, made safe to show: no control or bidi-override characters, bounded. */
export const safe = (s: unknown, max = 300): string => printable(String(s ?? ''), max);

const STATUS_WORD: Record<ResponseCheck['status'], string> = { ok: 'ok', fail: 'FAIL', 'not checked': 'not checked', unauthenticated: 'unauthenticated' };

/** One row per check, the same rows `ima-qs verify response.json` prints. */
export function checksTable(checks: ResponseCheck[], caption: string): HTMLTableElement {
  return el(
    'table',
    { class: 'checks' },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Result'), el('th', { scope: 'col' }, 'Check'), el('th', { scope: 'col' }, 'Detail'))),
    el(
      'tbody',
      {},
      ...checks.map((c) =>
        el(
          'tr',
          { class: `check-${c.status.replace(' ', '-')}`, 'data-check': c.name, 'data-status': c.status },
          el('td', {}, el('span', { class: 'badge' }, c.status === 'ok' ? '✓ ' : c.status === 'fail' ? '✗ ' : '– ', STATUS_WORD[c.status])),
          el('th', { scope: 'row' }, safe(c.name, 80)),
          el('td', {}, safe(c.detail, 600)),
        ),
      ),
    ),
  );
}

export function factsList(rows: [string, string][]): HTMLDListElement {
  return el('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

const OUTCOME_WORD: Record<string, string> = { approve: 'APPROVED', reject: 'REJECTED', inconclusive: 'INCONCLUSIVE' };

/** The outcome in words; one that did not verify is shown as a claim, never as a decision. */
export function outcomeBanner(outcome: string, verified = true): HTMLParagraphElement {
  const o = safe(outcome, 40);
  const word = OUTCOME_WORD[o] ?? o.toUpperCase();
  if (!verified) return el('p', { class: 'outcome outcome-unverified', id: 'outcome', 'data-outcome': o, 'data-verified': 'false' }, `? claims ${word}: NOT verified`);
  const mark = o === 'approve' ? '✓' : o === 'reject' ? '✗' : '?';
  return el('p', { class: `outcome outcome-${o}`, id: 'outcome', 'data-outcome': o, 'data-verified': 'true' }, `${mark} ${word}`);
}

/** The tally as the signed decision states it (whatever fields the aggregation rule has). */
export function tallyTable(tally: ResponseView['tally']): HTMLTableElement {
  const order = ['approve', 'reject', 'abstain', 'cast', 'quorum', 'needed'];
  const rank = (k: string) => (order.includes(k) ? order.indexOf(k) : order.length);
  const entries = Object.entries(tally as unknown as Record<string, unknown>)
    .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
    .sort(([a], [b]) => rank(a) - rank(b));
  return el(
    'table',
    { class: 'tally', id: 'tally' },
    el('caption', {}, 'Tally (signed)'),
    el('tbody', {}, ...entries.map(([k, v]) => el('tr', {}, el('th', { scope: 'row' }, safe(k, 40)), el('td', {}, safe(v, 40))))),
  );
}

export function votesTable(votes: ResponseView['votes']): HTMLTableElement {
  return el(
    'table',
    { class: 'votes', id: 'votes' },
    el('caption', {}, `The ${votes.length} votes (each a leaf of the signed votes root)`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Persona'), el('th', { scope: 'col' }, 'Vote'), el('th', { scope: 'col' }, 'Confidence'), el('th', { scope: 'col' }, 'Rationale'))),
    el(
      'tbody',
      {},
      ...votes.map((v) =>
        el(
          'tr',
          { class: `vote-${safe(v.vote, 20)}`, 'data-persona': safe(v.persona, 80) },
          el('th', { scope: 'row' }, safe(v.persona, 80)),
          el('td', {}, el('span', { class: 'badge' }, safe(v.vote, 20))),
          el('td', {}, safe(v.confidence, 20)),
          el('td', {}, safe(v.rationale, 2000)),
        ),
      ),
    ),
  );
}

/** Blob URLs of the downloads on show: revoked when the result is replaced. */
const urls: string[] = [];

/** An <a download> for a document the page holds (a blob: URL, never a request). */
export function downloadLink(text: string, filename: string, label: string, id: string): HTMLAnchorElement {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  urls.push(url);
  return el('a', { href: url, download: filename, class: 'button', id }, label);
}

export function revokeDownloads(): void {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
}
