/**
 * `ima-qs verify response.json (--pin FINGERPRINT | --key PUBFILE)`: the offline checks of a
 * decision response (SPEC §8.10.6; a version 1 response, §8.5, still verifies with its anchor
 * reported "unauthenticated (v1)"), of one exported vote (`vote.json`, §8.10.7), or of a
 * public-keys document (`keys.json`, §7.3). One row per check; exit 1 naming every failed check;
 * no private key needed. `--file PATH` recomputes the payload digest from the file that was sent;
 * `--require-anchor` makes an unauthenticated anchor a failure, `--require-tpm` a simulated one too.
 *
 * The pin is the ROOT fingerprint (SPEC §1.4): a v2 response carries the key-set statement that
 * certifies its signer. The highest generation this user has seen for the root (a verified keys
 * document here, or `request`; generation-state.ts) is the floor: an older keys document, or a
 * response certified by an older generation, is refused as a rollback (--reset-generation forgets it).
 *
 * The `verify` command (src/commands/file-crypto.ts) dispatches here when no --signature is
 * given and FILE is a JSON document.
 */
import { resolve } from 'node:path';
import type { App } from '../cli.js';
import { defaultProvider } from '../crypto/providers.js';
import { InputError, UsageError, VerificationError } from '../errors.js';
import { readInputFile } from '../io/files.js';
import { parseStrictJsonBytes } from '../protocol/strict-json.js';
import type { CliDeps } from '../context.js';
import { KEY_FILES, loadPublicKeys } from '../keys/key-dir.js';
import { table, type CommandResult } from '../output.js';
import { payloadDigest } from '../protocol/decision-v2.js';
import { verifyResponse, normalizePin, type ResponseCheck, type ResponseVerification, type TrustAnchor } from '../protocol/response-verify.js';
import { KEYS_DOCUMENT_FORMAT, verifyPublicKeysDocument } from '../protocol/keys-document.js';
import { fingerprint } from '../crypto/key-codec.js';
import { loadRootPublicKey, ROOT_FILES } from '../keys/key-set-files.js';
import { exists } from '../io/files.js';
import { join } from 'node:path';
import { forgetGeneration, highestSeen, recordGeneration } from './generation-state.js';
import { anchorLabel, responseView, type AnyResponse } from '../protocol/response-view.js';
import { isVoteDocument, verifyVoteDocument } from '../protocol/vote-proof.js';
import { readRequestFile } from './request.js';

/** A response is ~40 KiB of JSON (v2 with its certification; v1 with 22 signatures ~250 KiB); anything far larger is not one. */
export const MAX_RESPONSE_FILE_BYTES = 4 * 1024 * 1024;

export interface VerifyResponseFlags {
  pin?: string;
  key?: string;
  requestDigest?: string;
  /** the file that was sent: its payload digest is recomputed */
  payloadFile?: string;
  payloadName?: string;
  requireAnchor?: boolean;
  requireTpm?: boolean;
  resetGeneration?: boolean;
  json?: boolean;
}

/** True when a parsed JSON value looks like a decision response (for `verify` to dispatch on). */
export function looksLikeResponse(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'decision' in v && 'votes' in v && 'audit' in v;
}

/**
 * The trust anchor from --pin or --key (exactly one). --key is the ROOT public key: a root
 * folder, a key folder (its copy of the root's public key) or the key file; a folder without a
 * root (written before the root existed) gives its ML-DSA-87 key, which only a v1 response names.
 */
export async function trustFromFlags(opts: { pin?: string; key?: string }, cwd: string): Promise<TrustAnchor> {
  if (Boolean(opts.pin) === Boolean(opts.key)) {
    throw new UsageError('TRUST_ANCHOR_REQUIRED', 'verify response.json needs exactly one of --pin FINGERPRINT or --key PUBFILE', {
      hint: 'ima-qs verify response.json --pin <the root fingerprint of the service>',
    });
  }
  if (opts.pin) {
    const pin = normalizePin(opts.pin);
    if (!/^[0-9a-f]{64}$/.test(pin)) throw new UsageError('BAD_PIN', 'the pinned fingerprint is not 64 hex digits');
    return pin;
  }
  const p = defaultProvider();
  const path = resolve(cwd, opts.key!);
  if (await exists(join(path, ROOT_FILES.public))) {
    // a key folder is used only when its pairs match (SPEC §2.4), even for its copy of the root key
    if (await exists(join(path, KEY_FILES.mldsaPublic))) await loadPublicKeys(p, path);
    return loadRootPublicKey(p, path);
  }
  const keys = await loadPublicKeys(p, path);
  if (!keys.mldsa) throw new InputError('NO_SIGNING_KEY', `${opts.key} holds no ML-DSA-87 public key`, { hint: `give the root folder or ${ROOT_FILES.public}` });
  return keys.mldsa;
}

/** The root pin a trust anchor stands for (the key of the generation state). */
function pinOf(trust: TrustAnchor): string {
  return typeof trust === 'string' ? trust : fingerprint('ML-DSA-87', trust);
}

/** Reads a response or vote document (bounded, `-` = stdin) and parses it as strict JSON (SPEC §3.3). */
export async function readResponseDocument(file: string, deps: Pick<CliDeps, 'cwd' | 'stdin'>): Promise<{ path: string; doc: unknown }> {
  const path = file === '-' ? '-' : resolve(deps.cwd, file);
  const bytes = await readInputFile(path, MAX_RESPONSE_FILE_BYTES, 'response file', { tooLargeCode: 'RESPONSE_MALFORMED', stdin: deps.stdin });
  try {
    return { path, doc: parseStrictJsonBytes(bytes) };
  } catch {
    throw new InputError('NOT_JSON', `${file} is not JSON; a response document is the JSON 'ima-qs request -o' writes`);
  }
}

function statusText(c: ResponseCheck): string {
  return c.status === 'ok' ? 'ok' : c.status === 'fail' ? 'FAIL' : c.status;
}

export function checksTable(checks: ResponseCheck[]): string {
  return table(['', 'check', 'detail'], checks.map((c) => [statusText(c), c.name, c.detail]));
}

export async function verifyResponseAction(file: string, opts: VerifyResponseFlags, app: Pick<App, 'deps'>): Promise<CommandResult> {
  if (opts.requestDigest !== undefined && !/^[0-9a-fA-F]{64}$/.test(opts.requestDigest)) {
    throw new UsageError('BAD_REQUEST_DIGEST', '--request-digest is 64 hex digits (the handle the request was answered with)');
  }
  if (opts.payloadName !== undefined && !opts.payloadFile) throw new UsageError('USAGE', '--name goes with --file');
  const trust = await trustFromFlags(opts, app.deps.cwd);
  const p = defaultProvider();
  const pin = pinOf(trust);
  if (opts.resetGeneration) await forgetGeneration(app.deps.env, pin);
  const { generation: seen, signers: seenSigners } = await highestSeen(app.deps.env, pin);
  let digest: string | undefined;
  if (opts.payloadFile) {
    const sent = await readRequestFile(opts.payloadFile, app.deps.cwd);
    digest = payloadDigest(p, { name: opts.payloadName ?? sent.name, content: sent.content });
  }
  const { path, doc } = await readResponseDocument(file, app.deps);

  if (typeof doc === 'object' && doc !== null && (doc as { format?: unknown }).format === KEYS_DOCUMENT_FORMAT) {
    if (digest || opts.requestDigest || opts.requireAnchor || opts.requireTpm) {
      throw new UsageError('USAGE', '--file, --request-digest, --require-anchor and --require-tpm are for a response, not a keys document');
    }
    const now = app.deps.now?.() ?? new Date();
    const v = verifyPublicKeysDocument(p, doc, { pin, now, ...(seen ? { minGeneration: seen } : {}) });
    const checks: ResponseCheck[] = [
      { name: 'keys document', ok: v.valid, status: v.valid ? 'ok' : 'fail', detail: v.valid ? `generation ${v.keys.generation} of root ${pin.slice(0, 16)}…, valid until ${v.document.current.statement.not_after}${v.document.accepted.length ? `; accepted ${v.document.accepted.map((a) => a.statement.generation).join(', ')}` : ''}` : `${v.code}: ${v.reason}` },
    ];
    if (v.valid && v.keys.generation > seen) await recordGeneration(app.deps.env, pin, v.keys.generation, [v.keys.fingerprints.decisions], now);
    const summary = { kind: 'keys-document', generation: v.valid ? v.keys.generation : null, highestSeen: Math.max(seen, v.valid ? v.keys.generation : 0) };
    return {
      data: { file: path, valid: v.valid, checks, failed: v.valid ? [] : ['keys document'], ...summary },
      human: checksTable(checks) + (v.valid ? `\nthe keys document is valid: generation ${v.keys.generation} (highest seen for this root: ${summary.highestSeen})` : ''),
      failure: v.valid ? undefined : v.code === 'KEYS_DOC_MALFORMED' ? new InputError(v.code, `${file}: ${v.reason}`) : new VerificationError(v.code, `${file}: ${v.reason}`, v.code === 'KEYS_DOC_ROLLBACK' ? { hint: 'a newer generation of this root was seen: this document is an old (rotated) key set; --reset-generation forgets what was seen' } : {}),
    };
  }

  if (isVoteDocument(doc)) {
    if (digest || opts.requestDigest || opts.requireAnchor || opts.requireTpm) {
      throw new UsageError('USAGE', '--file, --request-digest, --require-anchor and --require-tpm are for a whole response, not one exported vote');
    }
    const v = verifyVoteDocument(p, doc, trust, seen ? { minGeneration: seen, stillCertified: seenSigners } : {});
    return render(file, path, v, {});
  }
  const v = verifyResponse(p, doc, trust, {
    ...(opts.requestDigest ? { requestDigest: opts.requestDigest.toLowerCase() } : {}),
    ...(digest ? { payloadDigest: digest } : {}),
    requireAnchor: opts.requireAnchor === true,
    requireTpm: opts.requireTpm === true,
    ...(seen ? { minGeneration: seen, stillCertified: seenSigners } : {}),
  });
  const formatOk = v.checks.find((c) => c.name === 'format')?.ok === true;
  let summary: Record<string, unknown> = {};
  if (formatOk) {
    const view = responseView(doc as AnyResponse);
    summary = { version: view.version, outcome: view.outcome, route: view.route, requestDigest: view.requestDigest, signer: view.signer, anchor: v.anchor, anchorLabel: anchorLabel(view.anchor), ...(v.generation !== undefined ? { generation: v.generation } : {}), highestSeen: seen };
  }
  return render(file, path, v, summary);
}

function render(file: string, path: string, v: ResponseVerification, summary: Record<string, unknown>): CommandResult {
  const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
  const label = typeof summary.anchorLabel === 'string' ? `\naudit anchor: ${summary.anchorLabel}` : '';
  const verdict = v.ok ? (summary.outcome ? `\nthe response is valid: ${String(summary.outcome)} by ${String(summary.signer)}` : '\nthe vote is valid') : '';
  return {
    data: { file: path, valid: v.ok, version: v.version ?? null, anchor: v.anchor, checks: v.checks, failed, ...summary },
    human: checksTable(v.checks) + label + verdict,
    failure: v.ok ? undefined : responseFailure(file, failed),
  };
}

/**
 * A document that fails the `format` check is not a response at all: bad input (exit 3), as a
 * malformed signature file is; a well-formed response that fails any other check is a "no" (exit 1).
 */
function responseFailure(file: string, failed: string[]): InputError | VerificationError {
  if (failed.includes('format')) {
    return new InputError('RESPONSE_MALFORMED', `${file} is not a well-formed response document (SPEC §8.10)`, {
      hint: "a response document is the JSON 'ima-qs request -o' writes",
      details: { failed },
    });
  }
  return new VerificationError('RESPONSE_INVALID', `the response fails: ${failed.join(', ')}`, { details: { failed } });
}

