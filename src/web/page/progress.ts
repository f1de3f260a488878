/**
 * The progress of one request on the page (issue 16 §4): each client phase as a step with its
 * state in words (done / in progress / stopped here / to do), an indeterminate progress bar and
 * an elapsed-time line while the council works, and the phases' timings for the page and the
 * benchmark (bench/browser.bench.ts reads them from #timings).
 */
import type { ClientPhase } from '../../client/black-box-client.js';
import { $, el } from './render.js';

/**
 * When each phase's progress callback was entered (= the previous phase ended) and left (= the
 * phase's own work begins, after this page's rendering): a phase takes left[p] → entered[next].
 */
let timings: { entered: Partial<Record<ClientPhase, number>>; left: Partial<Record<ClientPhase, number>> } = { entered: {}, left: {} };
let ticker: ReturnType<typeof setInterval> | undefined;

const STEPS: [ClientPhase, string][] = [
  ['keys', 'Fetch the service keys and check them against the pin'],
  ['seal', 'Seal your text in this page'],
  ['post', 'Send the sealed request'],
  ['poll', 'The council deliberates (21 personas)'],
  ['open', 'Open the sealed decision'],
  ['verify', 'Verify signatures, votes and the audit anchor'],
];

/** The steps so far: done before `current`, `current` in progress (or stopped, when it failed), to do after. */
export function showSteps(current: ClientPhase, failed = false): void {
  const at = current === 'done' ? STEPS.length : STEPS.findIndex(([p]) => p === current);
  const items = STEPS.map(([, label], i) => {
    const state = i < at ? 'done' : i === at ? (failed ? 'stopped' : 'now') : 'todo';
    const word = { done: 'done', now: 'in progress', todo: 'to do', stopped: 'stopped here' }[state];
    return el('li', { 'data-state': state, ...(state === 'now' ? { 'aria-current': 'step' } : {}) }, el('span', { class: 'badge' }, word), ` ${label}`);
  });
  $('steps').replaceChildren(...items);
}

export function startProgress(text: string): void {
  const region = $('progress');
  region.hidden = false;
  $('progress-bar').removeAttribute('value');
  $('progress-text').textContent = text;
  showSteps('keys');
}

export function stopProgress(ok: boolean): void {
  if (ticker) clearInterval(ticker);
  ticker = undefined;
  const bar = $<HTMLProgressElement>('progress-bar');
  bar.max = 1;
  bar.value = ok ? 1 : 0;
}

export function onPhase(phase: ClientPhase, elapsedMs: number, polls: number): void {
  timings.entered[phase] ??= performance.now();
  try {
    renderPhase(phase, elapsedMs, polls);
  } finally {
    timings.left[phase] = performance.now();
  }
}

function renderPhase(phase: ClientPhase, elapsedMs: number, polls: number): void {
  if (phase === 'done') return;
  showSteps(phase);
  const text = $('progress-text');
  if (phase === 'poll') {
    text.textContent = `The council is at work… ${(elapsedMs / 1000).toFixed(1)} s (poll ${polls})`;
    if (!ticker) {
      const t0 = performance.now() - elapsedMs;
      ticker = setInterval(() => {
        text.textContent = `The council is at work… ${((performance.now() - t0) / 1000).toFixed(1)} s`;
      }, 250);
    }
  } else {
    if (ticker) clearInterval(ticker);
    ticker = undefined;
    text.textContent = STEPS.find(([p]) => p === phase)?.[1] ?? phase;
  }
}

export function resetTimings(): void {
  timings = { entered: {}, left: {} };
}

/** ms of each phase's library work: from leaving its callback to entering the next one's. */
export function phaseSpans(): Partial<Record<'keys' | 'seal' | 'open' | 'verify', number>> {
  const { entered: e, left: l } = timings;
  const span = (from: ClientPhase, to: ClientPhase) => (l[from] !== undefined && e[to] !== undefined ? e[to]! - l[from]! : undefined);
  return { keys: span('keys', 'seal'), seal: span('seal', 'post'), open: span('open', 'verify'), verify: span('verify', 'done') };
}
