/**
 * Where the audit commands read from (issue 7 §6), and what they verify against: the store
 * (`--state DIR`: the local stack's STATE/audit; `--table NAME`: DynamoDB with the usual AWS
 * options), the trusted ML-DSA-87 keys (`--key`, default STATE/keys), the audit recipient's
 * private key for `--decrypt` (`--identity`, default STATE/keys), and the PCR evidence
 * (`--tcti`, `--simulated`, `--quote`, plus `--event-log` for extends made outside the chain).
 * All I/O for `audit verify` happens here; the verdict itself is pure (audit-verify.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { dynamoAuditStore } from '../aws/audit-store-dynamo.js';
import { awsClientConfig } from '../aws/config.js';
import type { CompositeKemPrivateKey } from '../crypto/composite-kem.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { CliDeps } from '../context.js';
import { InputError, PreconditionError, UsageError, VerificationError } from '../errors.js';
import { exists, isDirectory, readInputFile } from '../io/files.js';
import { resolveIdentity, resolveVerifyKey } from '../keys/key-args.js';
import { DEFAULT_TABLES } from '../protocol/records.js';
import type { AnchorBank } from '../protocol/anchor-math.js';
import { EventLog } from '../tpm/event-log.js';
import type { PcrBank } from '../tpm/pcr-bank.js';
import { parseHex, toHex } from '../tpm/pcr-math.js';
import { parseQuoteDoc, verifyQuote, type Attest } from '../tpm/quote.js';
import { replayLog } from '../tpm/replay.js';
import { SimulatedBank } from '../tpm/simulated-bank.js';
import { Tpm2ToolsBank } from '../tpm/tpm2-tools.js';
import { checkChainId, type AuditRecord } from '../audit/audit-entry.js';
import { AUDIT_DIR, FileAuditStore } from '../audit/audit-store-file.js';
import type { AuditStore } from '../audit/audit-store.js';
import type { PcrEvidence, PcrTransition, TrustedSigners } from '../audit/audit-verify.js';
import { parseStrictJson } from '../protocol/strict-json.js';

export interface SourceFlags {
  state?: string;
  table?: string;
  profile?: string;
  region?: string;
  endpointUrl?: string;
}

export interface AuditSource {
  store: AuditStore;
  /** "state DIR" or "dynamodb table NAME" */
  label: string;
  stateDir?: string;
  close(): void;
}

const MAX_QUOTE_FILE = 1 << 20;
/** SPEC §9: the local stack's tables (dynalite LevelDB) */
const LOCAL_DB = 'db';

export function resolvePath(deps: CliDeps, p: string): string {
  return resolve(deps.cwd, p);
}

export async function openAuditSource(flags: SourceFlags, deps: CliDeps): Promise<AuditSource> {
  if (Boolean(flags.state) === Boolean(flags.table)) {
    throw new UsageError('USAGE', 'give exactly one of --state DIR (the local stack) or --table NAME (DynamoDB)', {
      hint: `e.g. --state .ima-qs/local or --table ${DEFAULT_TABLES.audit}`,
    });
  }
  if (flags.state) {
    if (flags.profile || flags.region || flags.endpointUrl) throw new UsageError('USAGE', '--profile, --region and --endpoint-url go with --table, not --state');
    return openLocalState(flags.state, deps);
  }
  const client = new DynamoDBClient(awsClientConfig('DYNAMODB', { profile: flags.profile, region: flags.region, endpointUrl: flags.endpointUrl }, deps.env));
  return { store: dynamoAuditStore(client, flags.table!), label: `dynamodb table ${flags.table}`, close: () => client.destroy() };
}

/**
 * The local stack's audit store (SPEC §9): the `ima-tpm-audit-log` table in dynalite with its
 * LevelDB under STATE/db. While `local up` runs it holds that database: we talk to its dynalite
 * (the `db` endpoint in STATE/stack.json, owner pid alive). Otherwise we open STATE/db ourselves
 * for the duration of the command (`local up` cannot start meanwhile). A state folder with
 * STATE/audit instead holds the file store (audit-store-file.ts).
 */
async function openLocalState(state: string, deps: CliDeps): Promise<AuditSource> {
  const dir = resolvePath(deps, state);
  if (!(await isDirectory(dir))) {
    throw new InputError('STATE_NOT_FOUND', `${state} is not a folder`, { hint: 'give the folder passed to `ima-qs local up --state DIR`' });
  }
  const label = `state ${state}`;
  if (await isDirectory(join(dir, AUDIT_DIR))) return { store: FileAuditStore.forState(dir), label, stateDir: dir, close: () => {} };
  if (!(await isDirectory(join(dir, LOCAL_DB)))) {
    throw new InputError('STATE_EMPTY', `${state} holds no audit log (no ${LOCAL_DB}/ and no ${AUDIT_DIR}/)`, { hint: 'start the stack once with `ima-qs local up --state DIR`' });
  }
  const running = await runningStack(dir);
  if (running?.db) {
    const client = localClient(running.db);
    return { store: dynamoAuditStore(client, DEFAULT_TABLES.audit), label: `${label} (running stack)`, stateDir: dir, close: () => client.destroy() };
  }
  if (running) {
    throw new PreconditionError('STATE_IN_USE', `the local stack (pid ${running.pid}) holds ${state}/${LOCAL_DB} and does not say where its tables answer`, {
      hint: 'stop it and run the audit command again',
    });
  }
  const db = await startLocalDynalite(join(dir, LOCAL_DB));
  const client = localClient(db.url);
  return {
    store: dynamoAuditStore(client, DEFAULT_TABLES.audit),
    label,
    stateDir: dir,
    close: () => {
      client.destroy();
      void db.close();
    },
  };
}

/** STATE/local.lock and STATE/stack.json (SPEC §9): small state files, read with a bound. */
async function readSmall(path: string): Promise<string> {
  return (await readInputFile(path, MAX_STATE_FILE, 'local state file')).toString('utf8');
}
const MAX_STATE_FILE = 64 * 1024;

async function runningStack(dir: string): Promise<{ pid: number; db?: string } | undefined> {
  const pid = Number((await readSmall(join(dir, 'local.lock')).catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  let db: string | undefined;
  try {
    const s = parseStrictJson(await readSmall(join(dir, 'stack.json'))) as { db?: unknown; pid?: unknown };
    if (typeof s.db === 'string' && /^http:\/\/127\.0\.0\.1:\d+$/.test(s.db) && (s.pid === undefined || s.pid === pid)) db = s.db;
  } catch {
    db = undefined;
  }
  return { pid, ...(db ? { db } : {}) };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: existence check only, nothing is sent
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function localClient(url: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint: url, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' }, maxAttempts: 2 });
}

async function startLocalDynalite(path: string): Promise<{ url: string; close(): Promise<void> }> {
  let dynalite: typeof import('dynalite').default;
  try {
    dynalite = (await import('dynalite')).default;
  } catch (err) {
    throw new PreconditionError('DYNALITE_MISSING', 'reading the local tables needs the dynalite package, which is not installed', { hint: 'npm install dynalite', cause: err });
  }
  const server = dynalite({ path, createTableMs: 0 });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((ok) => server.close(() => ok())) };
}

/**
 * With --state and no evidence flag: the local stack's own anchor when it is the simulated bank
 * (STATE/tpm-sim.json, named in STATE/stack.json), so the chain's end is compared by default.
 */
export async function defaultEvidence(source: AuditSource): Promise<EvidenceFlags> {
  if (!source.stateDir) return {};
  try {
    const s = parseStrictJson(await readSmall(join(source.stateDir, 'stack.json'))) as { anchor?: { kind?: unknown; simulated?: unknown } };
    const file = join(source.stateDir, 'tpm-sim.json');
    if (s.anchor?.kind === 'simulated' && s.anchor.simulated === true && (await exists(file))) return { simulated: file };
  } catch {
    // no stack.json: nothing to default to
  }
  return {};
}

/** The chains to read: --chain, or every chain in the store. */
export async function selectChains(store: AuditStore, chain: string | undefined): Promise<string[]> {
  if (chain !== undefined) return [checkChainId(chain)];
  return store.chains();
}

/** Reads a chain a page at a time, ascending (a long chain never sits in memory whole). */

/** ML-DSA-87 public keys to trust: every --key, else STATE/keys. */
export async function trustedSigners(p: CryptoProvider, keys: string[] | undefined, source: AuditSource, deps: CliDeps): Promise<TrustedSigners> {
  const args = keys?.length ? keys : source.stateDir ? [join(source.stateDir, 'keys')] : [];
  if (!args.length) {
    throw new UsageError('AUDIT_KEY_REQUIRED', "checking audit signatures needs the service's ML-DSA-87 public key", {
      hint: 'pass --key DIR|FILE (the key folder from `ima-qs keys generate`, or ml_dsa_87_public.key)',
    });
  }
  const out = new Map<string, Uint8Array>();
  for (const a of args) {
    const pk = await resolveVerifyKey(p, a, deps.cwd);
    out.set(fingerprint('ML-DSA-87', pk), pk);
  }
  return out;
}

/** Like trustedSigners, but none is fine (tail shows "unchecked"). */
export async function optionalSigners(p: CryptoProvider, keys: string[] | undefined, source: AuditSource, deps: CliDeps): Promise<TrustedSigners | undefined> {
  if (keys?.length) return trustedSigners(p, keys, source, deps);
  if (source.stateDir && (await isDirectory(join(source.stateDir, 'keys')))) return trustedSigners(p, undefined, source, deps);
  return undefined;
}

/** The audit recipient's private key for --decrypt: --identity, else STATE/keys. */
export async function auditIdentity(p: CryptoProvider, identity: string | undefined, source: AuditSource, deps: CliDeps): Promise<CompositeKemPrivateKey> {
  const arg = identity ?? (source.stateDir ? join(source.stateDir, 'keys') : undefined);
  if (!arg) {
    throw new UsageError('AUDIT_IDENTITY_REQUIRED', '--decrypt needs the audit recipient private key', {
      hint: 'pass --identity DIR (the service key folder, or the auditor key folder the worker seals to)',
    });
  }
  return resolveIdentity(p, arg, deps.cwd);
}

export interface EvidenceFlags {
  tcti?: string;
  simulated?: string;
  quote?: string;
  nonce?: string;
  ak?: string;
  eventLog?: string;
  timeout?: string;
  previousQuote?: string;
}

async function readVerifiedQuote(path: string, nonce: Uint8Array, akPem: string, deps: CliDeps) {
  const text = (await readInputFile(resolvePath(deps, path), MAX_QUOTE_FILE, 'quote file', { tooLargeCode: 'BAD_QUOTE_FILE' })).toString('utf8');
  const doc = parseQuoteDoc(text, path);
  const verdict = verifyQuote(doc, { nonce, akPem });
  if (!verdict.ok || !verdict.attest) {
    const failed = verdict.checks.filter((c) => !c.ok).map((c) => c.check).join(', ');
    throw new VerificationError('QUOTE_INVALID', `${path} does not verify: ${failed}`, { hint: 'make a fresh quote with `ima-qs tpm quote --nonce HEX`, and pin its attestation key with --ak' });
  }
  return { doc, verdict };
}

/**
 * SPEC §6.5: two quotes of one TPM tell whether it was reset (resetCount: a reboot clears the PCRs)
 * or restarted (restartCount) between them, and its clock never runs backwards within one boot.
 * Either makes the PCR of the later quote no evidence for extends before it: a "no".
 */
export function compareQuotes(prev: Attest, now: Attest, prevName: string, name: string): string {
  if (prev.resetCount !== now.resetCount || prev.restartCount !== now.restartCount) {
    throw new VerificationError(
      'QUOTE_TPM_RESET',
      `the TPM was ${prev.resetCount !== now.resetCount ? `reset (resetCount ${prev.resetCount} → ${now.resetCount})` : `restarted (restartCount ${prev.restartCount} → ${now.restartCount})`} between ${prevName} and ${name}: its PCR values do not carry over`,
      { hint: 'verify each boot’s chain against a quote of that boot', details: { previous: { resetCount: prev.resetCount, restartCount: prev.restartCount }, current: { resetCount: now.resetCount, restartCount: now.restartCount } } },
    );
  }
  if (now.clock < prev.clock) {
    throw new VerificationError('QUOTE_TPM_RESET', `the TPM clock of ${name} is behind that of ${prevName}: not the same boot, or not this TPM`);
  }
  return `; no reset or restart since ${prevName}`;
}

/** The PCR's current value from the TPM, the simulated bank or a verified quote (none without a flag). */
export async function loadEvidence(
  o: EvidenceFlags,
  wanted: { pcr: number; bank: AnchorBank }[],
  deps: CliDeps,
): Promise<PcrEvidence | undefined> {
  const given = [o.tcti, o.simulated, o.quote].filter(Boolean).length;
  if (given > 1) throw new UsageError('USAGE', 'give at most one of --tcti, --simulated and --quote');
  if ((o.nonce || o.ak) && !o.quote) throw new UsageError('USAGE', '--nonce and --ak go with --quote');
  if (o.previousQuote && !o.quote) throw new UsageError('USAGE', '--previous-quote goes with --quote');
  if (o.quote) {
    // the quote's own nonce and key prove nothing about freshness or origin: both come from outside
    if (!o.nonce || !o.ak) {
      throw new UsageError('QUOTE_INPUTS_REQUIRED', '--quote needs --nonce (the fresh nonce you gave `tpm quote`) and --ak (the attestation key you pinned)', {
        hint: 'the nonce and the attestation key inside the quote file are never trusted',
      });
    }
    const akPem = (await readInputFile(resolvePath(deps, o.ak), 64 * 1024, 'public key PEM')).toString('utf8');
    const { doc, verdict } = await readVerifiedQuote(o.quote, parseHex(o.nonce, '--nonce'), akPem, deps);
    let note = '';
    if (o.previousQuote) {
      const prevText = (await readInputFile(resolvePath(deps, o.previousQuote), MAX_QUOTE_FILE, 'quote file', { tooLargeCode: 'BAD_QUOTE_FILE' })).toString('utf8');
      const prevDoc = parseQuoteDoc(prevText, o.previousQuote);
      // the previous quote was fresh for its own nonce; what matters now is that the pinned key made it
      const prev = await readVerifiedQuote(o.previousQuote, parseHex(prevDoc.nonce, 'nonce'), akPem, deps);
      note = compareQuotes(prev.verdict.attest!, verdict.attest!, o.previousQuote, o.quote);
    }
    const values = doc.banks.filter((b) => doc.values[b]).map((b) => ({ pcr: doc.pcr, bank: b as AnchorBank, value: doc.values[b]! }));
    return { source: `quote ${o.quote} (attestation key pinned${note})`, values };
  }
  if (!o.tcti && !o.simulated) return undefined;
  let timeoutMs: number | undefined;
  if (o.timeout !== undefined) {
    const s = Number(o.timeout);
    if (!/^\d+(\.\d+)?$/.test(o.timeout) || !(s > 0) || s > 600) throw new InputError('BAD_TIMEOUT', `--timeout ${o.timeout} is not a number of seconds between 0 and 600`);
    timeoutMs = Math.round(s * 1000);
  }
  const bank: PcrBank = o.simulated
    ? new SimulatedBank(resolvePath(deps, o.simulated))
    : new Tpm2ToolsBank({ tcti: o.tcti, env: deps.env, ...(timeoutMs ? { timeoutMs } : {}) });
  const values: PcrEvidence['values'] = [];
  for (const w of uniq(wanted)) {
    const v = await bank.read(w.pcr, [w.bank]);
    values.push({ pcr: w.pcr, bank: w.bank, value: toHex(v[w.bank]) });
  }
  const d = bank.describe();
  return { source: d.simulated ? `SIMULATED bank ${o.simulated}` : `tpm ${o.tcti}`, values };
}

/**
 * PCR transitions recorded by a tpm event log (SPEC §6.2): extends of the same PCR made outside
 * the audit chain (`ima-qs tpm extend --event-log`). The log must replay cleanly to be evidence.
 */
export async function eventLogTransitions(path: string | undefined, deps: CliDeps): Promise<PcrTransition[]> {
  if (!path) return [];
  const lines = await new EventLog(resolvePath(deps, path)).readAll();
  const res = replayLog(lines);
  if (res.firstDivergence) {
    const d = res.firstDivergence;
    throw new VerificationError('EVENT_LOG_INVALID', `${path} does not replay at seq ${d.seq}: ${d.reason}`, { hint: 'check it with `ima-qs tpm replay --event-log FILE`' });
  }
  const out: PcrTransition[] = [];
  const cur: Partial<Record<string, string>> = {};
  for (const l of lines) {
    const r = l.record;
    if (r.kind === 'open') {
      for (const [b, v] of Object.entries(r.values)) if (v && cur[b] === undefined) cur[b] = v;
      continue;
    }
    for (const [b, after] of Object.entries(r.after)) {
      if ((b !== 'sha256' && b !== 'sha384') || !after) continue;
      if (cur[b] !== undefined && cur[b] !== after) out.push({ pcr: r.pcr, bank: b, from: cur[b]!, to: after });
      cur[b] = after;
    }
  }
  return out;
}

function uniq(w: { pcr: number; bank: AnchorBank }[]): { pcr: number; bank: AnchorBank }[] {
  const seen = new Map<string, { pcr: number; bank: AnchorBank }>();
  for (const x of w) seen.set(`${x.pcr}:${x.bank}`, x);
  return [...seen.values()];
}
