/**
 * `ima-qs verify response.json (--pin FINGERPRINT | --key PUBFILE)` (issue 6 §3): the offline
 * checks of a decision response (SPEC §8.5) — signer key vs the trust anchor, the decision
 * signature, every vote signature (context strings included), votes bound to the decision, the
 * tally, the aggregation rule, the request digest (when given) and the audit anchor's form and
 * PCR arithmetic. One row per check; exit 1 naming every failed check; no private key needed.
 *
 * The `verify` command (src/commands/file-crypto.ts) dispatches here when no --signature is
 * given and FILE is a response document.
 */
import { resolve } from 'node:path';
import type { App } from '../cli.js';
import { defaultProvider } from '../crypto/providers.js';
import { InputError, UsageError, VerificationError } from '../errors.js';
import { readInputFile } from '../io/files.js';
import { loadPublicKeys } from '../keys/key-dir.js';
import { table, type CommandResult } from '../output.js';
import { verifyResponse, type TrustAnchor } from '../protocol/response-verify.js';
import type { DecisionResponse } from '../protocol/decision.js';

/** A response is ~250 KiB of JSON (21 votes with 4627-byte signatures); anything far larger is not one. */
export const MAX_RESPONSE_FILE_BYTES = 4 * 1024 * 1024;

export interface VerifyResponseFlags {
  pin?: string;
  key?: string;
  requestDigest?: string;
  json?: boolean;
}

/** True when a parsed JSON value looks like a decision response (for `verify` to dispatch on). */
export function looksLikeResponse(v: unknown): boolean {
  return typeof v === 'object' && v !== null && 'decision' in v && 'votes' in v && 'audit' in v;
}

export async function verifyResponseAction(file: string, opts: VerifyResponseFlags, app: Pick<App, 'deps'>): Promise<CommandResult> {
  if (Boolean(opts.pin) === Boolean(opts.key)) {
    throw new UsageError('TRUST_ANCHOR_REQUIRED', 'verify response.json needs exactly one of --pin FINGERPRINT or --key PUBFILE', {
      hint: 'ima-qs verify response.json --pin <the ML-DSA-87 fingerprint of the service>',
    });
  }
  if (opts.requestDigest !== undefined && !/^[0-9a-fA-F]{64}$/.test(opts.requestDigest)) {
    throw new UsageError('BAD_REQUEST_DIGEST', '--request-digest is 64 hex digits (the handle the request was answered with)');
  }
  const p = defaultProvider();
  let trust: TrustAnchor;
  if (opts.pin) {
    const pin = opts.pin.trim().toLowerCase().replace(/^sha3-256:/, '');
    if (!/^[0-9a-f]{64}$/.test(pin)) throw new UsageError('BAD_PIN', 'the pinned fingerprint is not 64 hex digits');
    trust = pin;
  } else {
    const keys = await loadPublicKeys(p, resolve(app.deps.cwd, opts.key!));
    if (!keys.mldsa) throw new InputError('NO_SIGNING_KEY', `${opts.key} holds no ML-DSA-87 public key`, { hint: 'give the service key folder or ml_dsa_87_public.key' });
    trust = keys.mldsa;
  }
  const path = resolve(app.deps.cwd, file);
  const text = (await readInputFile(path, MAX_RESPONSE_FILE_BYTES, 'response file')).toString('utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new InputError('NOT_JSON', `${file} is not JSON; a response document is the JSON 'ima-qs request -o' writes`);
  }
  const v = verifyResponse(p, doc, trust, opts.requestDigest ? { requestDigest: opts.requestDigest.toLowerCase() } : {});
  const r = doc as Partial<DecisionResponse>;
  const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
  const summary = v.checks.find((c) => c.name === 'format')?.ok
    ? { outcome: r.decision?.outcome, route: r.decision?.route, requestDigest: r.decision?.request_digest, signer: r.signer?.fingerprint, simulatedAnchor: r.audit?.pcr?.simulated }
    : {};
  const rows = v.checks.map((c) => [c.ok ? 'ok' : 'FAIL', c.name, c.detail]);
  return {
    data: { file: path, valid: v.ok, checks: v.checks, failed, ...summary },
    human: table(['', 'check', 'detail'], rows) + (v.ok ? `\nthe response is valid: ${summary.outcome} by ${summary.signer}` : ''),
    failure: v.ok ? undefined : responseFailure(file, failed),
  };
}

/**
 * A document that fails the `format` check is not a response at all: bad input (exit 3), as a
 * malformed signature file is; a well-formed response that fails any other check is a "no" (exit 1).
 */
function responseFailure(file: string, failed: string[]): InputError | VerificationError {
  if (failed.includes('format')) {
    return new InputError('RESPONSE_MALFORMED', `${file} is not a well-formed response document (SPEC §8.5)`, {
      hint: "a response document is the JSON 'ima-qs request -o' writes",
      details: { failed },
    });
  }
  return new VerificationError('RESPONSE_INVALID', `the response fails: ${failed.join(', ')}`, { details: { failed } });
}
