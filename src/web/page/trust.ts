/**
 * The page's one place for trust (issue 16 §2): where the pin comes from, and the calls that use
 * it. The page never checks a key itself: it hands the pin to `BlackBoxClient` (which refuses a
 * keys document that does not verify against it before anything is sealed or sent) and to the
 * offline verifiers, so a change of what a pin names (issue 15: a root key's fingerprint) lands in
 * those libraries, not here. Pure: no DOM, testable in Node.
 *
 * Sources, in order: the page's configuration (`<meta name="ima-qs-pin">`, written by whoever
 * serves the page: `ima-qs package web --pin`), the link's fragment (`#pin=…`, never sent to any
 * server), or what the person types. A configured pin and a different one in the link is refused:
 * a link cannot override the operator's pin.
 */
import { UsageError } from '../../errors.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { BlackBoxClient, type BlackBoxClientOptions } from '../../client/black-box-client.js';
import { normalizePin, verifyResponse, type ResponseVerification } from '../../protocol/response-verify.js';
import { isVoteDocument, verifyVoteDocument } from '../../protocol/vote-proof.js';
import { parseStrictJson } from '../../protocol/strict-json.js';

export type PinSource = 'configuration' | 'link' | 'typed';

export interface PinChoice {
  pin: string;
  source: PinSource;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** `#pin=<64 hex>` (other fragment parameters ignored); undefined when the fragment has none. */
export function pinFromFragment(hash: string): string | undefined {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  if (h.length === 0 || h.length > 2048) return undefined;
  const v = new URLSearchParams(h).get('pin');
  return v === null || v === '' ? undefined : v;
}

function checked(raw: string, source: PinSource): PinChoice {
  const pin = normalizePin(raw);
  if (!HEX64.test(pin)) {
    const where = source === 'configuration' ? "the page's configuration" : source === 'link' ? 'the link (#pin=…)' : 'the pin field';
    throw new UsageError('BAD_PIN', `the pin in ${where} is not 64 hex digits`, { hint: "it is the fingerprint 'ima-qs keys show' or 'ima-qs local up' prints" });
  }
  return { pin, source };
}

/** Which pin the page uses, or why none: BAD_PIN, PIN_CONFLICT, PIN_REQUIRED (all before any request). */
export function choosePin(o: { configured?: string; fragment?: string; typed?: string }): PinChoice {
  const configured = o.configured?.trim() ? checked(o.configured, 'configuration') : undefined;
  const linked = o.fragment?.trim() ? checked(o.fragment, 'link') : undefined;
  if (configured && linked && configured.pin !== linked.pin) {
    throw new UsageError('PIN_CONFLICT', "the link's pin is not the one this page is configured with; nothing is sent", {
      hint: 'open the page without #pin=…, or ask whoever gave you the link which service it names',
    });
  }
  if (configured) return configured;
  if (linked) return linked;
  if (o.typed?.trim()) return checked(o.typed, 'typed');
  throw new UsageError('PIN_REQUIRED', 'a pin is needed: the service fingerprint, given to you out of band', {
    hint: "paste it into the pin field, or open the link with #pin=<fingerprint> that 'ima-qs local up' prints",
  });
}

/** Where the page keeps what it has seen across reloads (the browser's localStorage; anything with these two calls). */
export interface GenerationStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const generationKey = (pin: string) => `ima-qs/generation/${pin}`;

/**
 * The highest key-set generation this browser has seen for a root (SPEC §7.3: a rollback is
 * refused), and the decisions signers it certifies; undefined when none, or when what is stored is
 * not exactly that (a tampered or foreign entry is ignored, never trusted to lower anything).
 */
export function rememberedGeneration(store: GenerationStore | undefined, pin: string): { generation: number; signers: string[] } | undefined {
  let raw: string | null = null;
  try {
    raw = store?.getItem(generationKey(pin)) ?? null;
  } catch {
    return undefined; // storage refused (private mode, a sandboxed frame): memory per page only
  }
  if (raw === null || raw.length > 4096) return undefined;
  try {
    const v = parseStrictJson(raw) as { generation?: unknown; signers?: unknown };
    const keys = v && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v).sort().join(',') : '';
    if (keys !== 'generation,signers' || !Number.isSafeInteger(v.generation) || (v.generation as number) < 1) return undefined;
    if (!Array.isArray(v.signers) || v.signers.length > 16 || !v.signers.every((x) => typeof x === 'string' && HEX64.test(x))) return undefined;
    return { generation: v.generation as number, signers: v.signers as string[] };
  } catch {
    return undefined;
  }
}

/**
 * The request client for a pin choice (the pure-JS provider: the only one a browser has). With a
 * store, the highest generation seen survives a reload: the client refuses an older keys document
 * or response from the first request on (issue 15, "the browser … remember[s] the highest
 * generation seen").
 */
export function clientFor(pin: PinChoice, o: Omit<BlackBoxClientOptions, 'pin'>, store?: GenerationStore): BlackBoxClient {
  const seen = rememberedGeneration(store, pin.pin);
  return new BlackBoxClient({
    ...o,
    pin: pin.pin,
    ...(seen ? { minGeneration: seen.generation, minGenerationSigners: seen.signers } : {}),
    onGeneration: (generation, signers) => {
      o.onGeneration?.(generation, signers);
      try {
        store?.setItem(generationKey(pin.pin), JSON.stringify({ generation, signers }));
      } catch {
        // storage full or refused: the client's own memory still holds it for this page
      }
    },
  });
}

/** A dropped document, verified offline: a whole response (SPEC §8.10.6) or one exported vote (§8.10.7). */
export function verifyDocument(p: CryptoProvider, doc: unknown, pin: PinChoice, payloadDigest?: string): ResponseVerification & { kind: 'response' | 'vote' } {
  if (isVoteDocument(doc)) return { kind: 'vote', ...verifyVoteDocument(p, doc, pin.pin) };
  return { kind: 'response', ...verifyResponse(p, doc, pin.pin, payloadDigest ? { payloadDigest } : {}) };
}
