/**
 * The automated checks behind the rollout checklist. Each reads facts through the `RolloutProbe`
 * port and decides pass or fail with a detail that says exactly what was checked. A missing
 * resource is a fail (exit 5 with the item's hint); a remote failure propagates as a RemoteError
 * (exit 4). Signature verification is delegated to the verifiers the command wires in (key custody's
 * public-keys document check, the service's decision / audit verification).
 */
import { anchorLabel } from '../protocol/anchor-label.js';
import type { LoadReport } from '../client/load-measure.js';
import { ImaError } from '../errors.js';
import type { RolloutProbe, TableFacts } from './probe.js';
import type { Resources } from './resources.js';
import { LOG_SCAN_PATTERNS, type LogFinding, scanLogMessage } from './log-scan.js';

/** A key-set generation as the rollout compares it (SPEC §7.1): from keyset.json or a verified document. */
export interface KeySetFacts {
  generation: number;
  /** composite KEM fingerprint (what requests are sealed to) */
  composite: string;
  /** the certified decisions signer's fingerprint */
  decisions: string;
  /** the root fingerprint: the pin */
  root: string;
  /** the key-set secret's version id of this generation (SPEC §7.1) */
  versionId: string;
}

export type DocumentVerdict = { ok: true; current: KeySetFacts; accepted: number[] } | { ok: false; reason: string };

/** What the rollout can verify with the other parts' code; absent = that item is manual. */
export interface RolloutVerifiers {
  /** a public-keys document (SPEC §7.3) against a pinned ROOT fingerprint (hex) */
  publicKeysDocument?(text: string, pin: string): Promise<DocumentVerdict>;
  /** stored items' ML-DSA-87 signatures; `what` says precisely what was verified */
  storedSignatures?(
    probe: RolloutProbe,
    res: Resources,
    pin: string,
    limit: number,
  ): Promise<{ verified: number; failures: string[]; what: string }>;
}

/** The bounds of d4.load-test's load (rollout day 4 --load-users / -duration / -think / -max-requests). */
export interface LoadBounds {
  users: number;
  durationS: number;
  /** each user's pause between requests, ms (locust's wait_time) */
  thinkMs: number;
  /** hard cap: no request is started after this many */
  maxRequests: number;
  /** the service p99 (POST → sealed decision) must be below this, ms (the seed's: 550) */
  p99Ms: number;
  /**
   * each request's one deadline, ms (keys, POST, every poll, headers and bodies): a stalled
   * request is a TIMEOUT error then, so the load ends at most this long after durationS
   */
  requestTimeoutMs: number;
}

/** Runs a bounded load against `endpoint` with the pin (src/client/load-measure.ts in the command). */
export type LoadRunner = (endpoint: string, pin: string, bounds: LoadBounds, token?: string) => Promise<LoadReport>;

/** The seed's Day 4 acceptance budget: service p99 below 550 ms (at 100 users). */
export const LOAD_BUDGET_P99_MS = 550;

export interface CheckContext {
  probe: RolloutProbe;
  res: Resources;
  /** the local key folder's generation (--keys DIR: its keyset.json) */
  local?: KeySetFacts;
  /** pinned ROOT fingerprint (--pin, else the local folder's root), hex */
  pin?: string;
  /** bearer token for the deployed proxy, which authenticates callers (--token / IMA_QS_TOKEN) */
  token?: string;
  verifiers: RolloutVerifiers;
  now: Date;
  httpTimeoutMs: number;
  logWindowHours: number;
  logEventCap: number;
  sampleSize: number;
  /** d4.load-test; absent = that item fails saying this build cannot run it */
  load?: { bounds: LoadBounds; run: LoadRunner };
}

export interface CheckOutcome {
  /** warn: nothing is wrong that the check can see, but it cannot say all is well (not done, not failed) */
  status: 'pass' | 'warn' | 'fail';
  detail: string;
}

/** The TTL attribute the proxy and the worker write on the requests table (SPEC §8.2). */
export const TTL_ATTRIBUTE = 'ttl';

const pass = (detail: string): CheckOutcome => ({ status: 'pass', detail });
const fail = (detail: string): CheckOutcome => ({ status: 'fail', detail });
const short = (fp: string | undefined) => (fp ? fp.slice(0, 16) : '—');

function verdict(problems: string[], ok: string): CheckOutcome {
  return problems.length ? fail(problems.join('; ')) : pass(ok);
}

export async function checkCallerIdentity(ctx: CheckContext): Promise<CheckOutcome> {
  const id = await ctx.probe.callerIdentity();
  if (!/^\d{12}$/.test(id.account)) return fail(`STS answered with account "${id.account.slice(0, 20)}", not a 12-digit account id`);
  return pass(`account ${id.account} as ${id.arn}`);
}

/** KMS key: exists, Enabled, customer managed, symmetric, automatic rotation on. */
export async function checkKmsKey(ctx: CheckContext): Promise<CheckOutcome> {
  const k = await ctx.probe.kmsKey(ctx.res.kmsAlias);
  if (!k) return fail(`KMS key ${ctx.res.kmsAlias} not found`);
  const problems: string[] = [];
  if (k.state !== 'Enabled') problems.push(`key ${ctx.res.kmsAlias} is ${k.state}`);
  // absent facts fail: KMS always reports them, so "unknown" is never a pass
  if (k.manager !== 'CUSTOMER') problems.push(`key is ${k.manager ? `${k.manager}-managed` : 'of an unknown manager'}, a customer-managed key is required`);
  if (k.keySpec !== 'SYMMETRIC_DEFAULT') problems.push(`key spec is ${k.keySpec || 'unknown'}, SYMMETRIC_DEFAULT is required`);
  if (k.rotation !== true) problems.push(`automatic rotation is ${k.rotation === false ? 'off' : 'unknown'}`);
  return verdict(problems, `${ctx.res.kmsAlias} → ${k.keyId}: Enabled, customer managed, rotation on`);
}

/** Resolves the ARN of the rollout KMS key (undefined when it does not exist). */
async function kmsArn(ctx: CheckContext): Promise<string | undefined> {
  return (await ctx.probe.kmsKey(ctx.res.kmsAlias))?.arn;
}

/**
 * The key-set secret (SPEC §7.1): present, not scheduled for deletion, encrypted under the
 * rollout KMS key, with a current version written by ima-qs whose id names the expected
 * generation — the local folder's (--keys), or with only --pin the current generation of the
 * public-keys document verified under the pin — and the document secret present. From metadata
 * only: the private values are never read.
 */
export async function checkSecrets(ctx: CheckContext): Promise<CheckOutcome> {
  const { res } = ctx;
  let expected: KeySetFacts | undefined = ctx.local;
  let source = 'the local keyset.json';
  if (!expected) {
    if (!ctx.pin) return fail('no --keys DIR or --pin FINGERPRINT to compare the key set with');
    if (!ctx.verifiers.publicKeysDocument) return fail('this build has no public-keys document verifier (give --keys DIR)');
    const doc = await ctx.probe.publicSecretValue(res.secretPublicKeys);
    if (doc === undefined) return fail(`public-keys document secret ${res.secretPublicKeys} not found`);
    const v = await ctx.verifiers.publicKeysDocument(doc, ctx.pin);
    if (!v.ok) return fail(`public-keys document in ${res.secretPublicKeys} does not verify under the pin: ${v.reason}`);
    expected = v.current;
    source = 'the pinned public-keys document';
  }
  const problems: string[] = [];
  const arn = await kmsArn(ctx);
  const s = await ctx.probe.secret(res.secretKeyset);
  if (!s) return fail(`${res.secretKeyset} not found`);
  if (s.deleted) problems.push(`${res.secretKeyset} is scheduled for deletion`);
  if (!s.kmsKeyId) problems.push(`${res.secretKeyset} is encrypted with the AWS-managed key, not ${res.kmsAlias}`);
  else if (!arn || (await ctx.probe.kmsKey(s.kmsKeyId))?.arn !== arn) problems.push(`${res.secretKeyset} is encrypted under ${s.kmsKeyId}, not ${res.kmsAlias}`);
  const current = s.versions.find((v) => v.stages.includes('AWSCURRENT'));
  if (!current) problems.push(`${res.secretKeyset} has no AWSCURRENT version (an empty secret: run ima-qs keys upload)`);
  else if (current.versionId !== expected.versionId) {
    const m = /^ks-g(\d{9})-/.exec(current.versionId);
    const held = m ? Number(m[1]) : undefined;
    problems.push(
      held === expected.generation
        ? `${res.secretKeyset} holds another statement of generation ${held} as current than ${source} (another root, or certified twice)`
        : `${res.secretKeyset} holds ${held !== undefined ? `generation ${held}` : 'a version not written by ima-qs'} as current, not generation ${expected.generation} (${source})`,
    );
  }
  const doc = await ctx.probe.secret(res.secretPublicKeys);
  if (!doc) problems.push(`${res.secretPublicKeys} not found`);
  else if (!doc.versions.some((v) => v.stages.includes('AWSCURRENT'))) problems.push(`${res.secretPublicKeys} has no current document`);
  return verdict(problems, `${res.secretKeyset} under ${res.kmsAlias} holds generation ${expected.generation} as current (${source}); ${res.secretPublicKeys} present`);
}

function tableProblems(t: TableFacts | undefined, name: string, keyArn: string | undefined): string[] {
  if (!t) return [`table ${name} not found`];
  const p: string[] = [];
  if (t.status !== 'ACTIVE') p.push(`${name} is ${t.status}`);
  if (!t.pitr) p.push(`${name} has no point-in-time recovery`);
  if (t.sseStatus !== 'ENABLED' || t.sseType !== 'KMS') p.push(`${name} is not encrypted with a KMS key (SSE ${t.sseType ?? 'AWS owned'})`);
  else if (keyArn && t.sseKmsKeyArn !== keyArn) p.push(`${name} is encrypted under ${t.sseKmsKeyArn}, not the rollout key`);
  return p;
}

/** The 3 tables: ACTIVE, PITR on, SSE with the rollout KMS key; TTL enabled on the requests table. */
export async function checkTables(ctx: CheckContext): Promise<CheckOutcome> {
  const { res } = ctx;
  const keyArn = await kmsArn(ctx);
  const problems: string[] = [];
  let ttlAttribute: string | undefined;
  for (const name of [res.tableAudit, res.tableDecisions, res.tableRequests]) {
    const t = await ctx.probe.table(name);
    problems.push(...tableProblems(t, name, keyArn));
    if (t && name === res.tableRequests) {
      if (t.ttlStatus !== 'ENABLED') problems.push(`${name} has no TTL (replay-guard entries would never expire)`);
      // TTL on another attribute than the one the proxy and worker write (SPEC §8.2) expires nothing
      else if (t.ttlAttribute !== TTL_ATTRIBUTE) problems.push(`${name} TTL is on attribute ${t.ttlAttribute ?? 'none'}, not ${TTL_ATTRIBUTE} (entries would never expire)`);
      ttlAttribute = t.ttlAttribute;
    }
  }
  return verdict(problems, `3 tables ACTIVE with PITR and SSE-KMS (${res.kmsAlias}); TTL on ${res.tableRequests} (attribute ${ttlAttribute})`);
}

/** Request queue with a redrive policy to the DLQ (maxReceiveCount set); both encrypted at rest. */
export async function checkQueue(ctx: CheckContext): Promise<CheckOutcome> {
  const { res } = ctx;
  const [q, dlq] = [await ctx.probe.queue(res.queue), await ctx.probe.queue(res.dlq)];
  const problems: string[] = [];
  if (!q) problems.push(`queue ${res.queue} not found`);
  if (!dlq) problems.push(`dead-letter queue ${res.dlq} not found`);
  if (q && dlq) {
    if (q.deadLetterTargetArn !== dlq.arn) problems.push(`${res.queue} does not redrive to ${res.dlq}`);
    else if (!q.maxReceiveCount || q.maxReceiveCount < 1) problems.push(`${res.queue} redrive has no maxReceiveCount`);
  }
  for (const x of [q, dlq]) if (x && !x.kmsMasterKeyId && !x.sqsManagedSse) problems.push(`${x.name} is not encrypted at rest`);
  return verdict(problems, `${res.queue} → ${res.dlq} after ${q?.maxReceiveCount} receives; both encrypted`);
}

/** Log groups exist and have a retention (never-expiring logs are a cost and a leak surface). */
export async function checkLogGroups(ctx: CheckContext): Promise<CheckOutcome> {
  const problems: string[] = [];
  for (const name of ctx.res.logGroups) {
    const g = await ctx.probe.logGroup(name);
    if (!g) problems.push(`log group ${name} not found`);
    else if (!g.retentionDays) problems.push(`log group ${name} never expires (no retention)`);
  }
  return verdict(problems, `${ctx.res.logGroups.length} log groups with retention: ${ctx.res.logGroups.join(', ')}`);
}

/** Lambda: Active, last update Successful, a Node runtime, alias → a published version. */
export async function checkLambda(ctx: CheckContext): Promise<CheckOutcome> {
  const { res } = ctx;
  const f = await ctx.probe.lambda(res.lambdaFunction, res.lambdaAlias);
  if (!f) return fail(`Lambda function ${res.lambdaFunction} not found`);
  const problems: string[] = [];
  if (f.state !== 'Active') problems.push(`state is ${f.state ?? 'unknown'}`);
  if (f.lastUpdateStatus && f.lastUpdateStatus !== 'Successful') problems.push(`last update ${f.lastUpdateStatus}`);
  if (!f.runtime || !/^nodejs(2[2-9]|[3-9]\d)\.x$/.test(f.runtime)) problems.push(`runtime ${f.runtime ?? 'none'} is not a current Node.js runtime (nodejs22.x or later)`);
  if (!f.alias) problems.push(`no alias ${res.lambdaAlias} (rollback moves an alias between published versions)`);
  return verdict(problems, `${res.lambdaFunction} ${f.runtime} Active; alias ${res.lambdaAlias} → version ${f.alias?.version} of ${f.versions.length}`);
}

/** The deployed proxy's base URL: api.url when configured, else the function URL (of the alias). */
async function proxyBase(ctx: CheckContext): Promise<string | undefined> {
  const { res } = ctx;
  const base = res.apiUrl ?? (await ctx.probe.lambda(res.lambdaFunction, res.lambdaAlias))?.url;
  return base?.replace(/\/+$/, '');
}

const noProxyUrl = (ctx: CheckContext) => fail(`no URL for the proxy: ${ctx.res.lambdaFunction} has no function URL and no api.url is configured`);

const bearer = (ctx: CheckContext): Record<string, string> => (ctx.token ? { authorization: `Bearer ${ctx.token}` } : {});

/**
 * Who may call the deployed proxy (infra/api.tf): a GET /api/keys and a POST /api/analyze without
 * credentials must both be refused with 401 or 403. The POST carries one byte, not a sealed
 * request: an endpoint that wrongly accepts it answers 400 and stores nothing.
 */
export async function checkUnauthenticatedRefused(ctx: CheckContext): Promise<CheckOutcome> {
  const base = await proxyBase(ctx);
  if (!base) return noProxyUrl(ctx);
  const answers = [
    [`GET ${base}/api/keys`, await ctx.probe.httpGet(`${base}/api/keys`, ctx.httpTimeoutMs)],
    [`POST ${base}/api/analyze`, await ctx.probe.httpPost(`${base}/api/analyze`, ctx.httpTimeoutMs, new Uint8Array([0]))],
  ] as const;
  const problems: string[] = [];
  for (const [what, a] of answers) {
    if (a.status === 0) problems.push(`${what}: ${a.body}`);
    else if (a.status !== 401 && a.status !== 403) problems.push(`${what} without credentials answered HTTP ${a.status}, not 401/403: the endpoint accepts anyone`);
  }
  return verdict(problems, answers.map(([what, a]) => `${what}: ${a.status}`).join('; ') + ' — unauthenticated calls are refused');
}

/** GET {url}/api/keys answers 200 with a public-keys document whose statements the pinned root signed. */
export async function checkApiKeys(ctx: CheckContext): Promise<CheckOutcome> {
  if (!ctx.pin) return fail('no --pin FINGERPRINT (or --keys DIR) to verify the served document with');
  if (!ctx.verifiers.publicKeysDocument) return fail('this build has no public-keys document verifier');
  const base = await proxyBase(ctx);
  if (!base) return noProxyUrl(ctx);
  const url = `${base}/api/keys`;
  const answer = await ctx.probe.httpGet(url, ctx.httpTimeoutMs, bearer(ctx));
  if (answer.status !== 200) {
    const why = answer.status === 0 ? answer.body : `HTTP ${answer.status}`;
    return fail(`GET ${url}: ${why}${(answer.status === 401 || answer.status === 403) && !ctx.token ? ' (the API authenticates callers: pass --token or IMA_QS_TOKEN)' : ''}`);
  }
  const v = await ctx.verifiers.publicKeysDocument(answer.body, ctx.pin);
  if (!v.ok) return fail(`GET ${url}: the document does not verify under the pinned root ${short(ctx.pin)}: ${v.reason}`);
  const problems: string[] = [];
  if (ctx.local && v.current.generation !== ctx.local.generation && !v.accepted.includes(ctx.local.generation)) {
    problems.push(`served generation ${v.current.generation}${v.accepted.length ? ` (accepted ${v.accepted.join(', ')})` : ''} ≠ local generation ${ctx.local.generation}`);
  } else if (ctx.local && v.current.generation === ctx.local.generation && v.current.composite !== ctx.local.composite) {
    problems.push(`served KEM key ${short(v.current.composite)} ≠ local ${short(ctx.local.composite)}`);
  }
  return verdict(problems, `GET ${url}: 200, generation ${v.current.generation} certified by the pinned root ${short(ctx.pin)}; KEM ${short(v.current.composite)}, signer ${short(v.current.decisions)}`);
}

/**
 * A bounded load against the deployed proxy through the full client (keys verified under the pin
 * first: on a "no" nothing is sent), like a locust run: N users, each pausing the think time
 * between requests, for the duration, never more than the request cap. Passes when no request
 * failed and the service p99 (POST → sealed decision) is below the budget (the seed's 550 ms unless the
operator sets another service-level objective). Fewer users than the seed's
 * 100 are allowed (a smoke run) and the detail says so.
 */
export async function checkLoadTest(ctx: CheckContext): Promise<CheckOutcome> {
  if (!ctx.pin) return fail('no --pin FINGERPRINT (or --keys DIR) to pin the service key with: no load was sent');
  if (!ctx.load) return fail('this build has no load runner');
  const base = await proxyBase(ctx);
  if (!base) return noProxyUrl(ctx);
  const b = ctx.load.bounds;
  let r: LoadReport;
  try {
    r = await ctx.load.run(base, ctx.pin, b, ctx.token);
  } catch (err) {
    // only the keys step throws (per-request failures are counted): a pin or network "no"
    if (!(err instanceof ImaError)) throw err;
    return fail(`${base}/api/keys: ${err.message} (${err.code}); no load was sent`);
  }
  const s = r.latencyMs.service;
  const load = `${b.users} users × ${b.durationS} s, think ${b.thinkMs} ms on ${base}`;
  const measured = `${r.requests.ok} ok of ${r.requests.started} started in ${r.elapsedSeconds} s, ${r.throughputPerSecond} decisions/s, service p50 ${s.p50} ms, p99 ${s.p99} ms`;
  const notes: string[] = [];
  if (r.requests.started >= b.maxRequests) notes.push(`stopped at the cap of ${b.maxRequests} requests`);
  if (b.users < 100) notes.push(`${b.users} users is below the seed's 100: a smoke run, not the acceptance load`);
  const problems: string[] = [];
  if (r.requests.errors > 0) {
    const steps = Object.entries(r.timeoutsByStep).map(([step, n]) => `${step} ×${n}`).join(', ');
    const byCode = Object.entries(r.errors).map(([c, n]) => `${c} ×${n}${c === 'TIMEOUT' && steps ? ` (at ${b.requestTimeoutMs / 1000} s, in step ${steps})` : ''}`).join(', ');
    problems.push(`${r.requests.errors} of ${r.requests.started} requests failed (${byCode})`);
  }
  if (r.requests.ok === 0) problems.push('no request completed');
  else if (s.p99 >= b.p99Ms) problems.push(`service p99 ${s.p99} ms is not below the ${b.p99Ms} ms budget`);
  if (b.p99Ms !== LOAD_BUDGET_P99_MS) notes.push(`budget ${b.p99Ms} ms set by --load-p99, not the seed's ${LOAD_BUDGET_P99_MS} ms`);
  const tail = [measured, ...notes].join('; ');
  return problems.length ? fail(`${problems.join('; ')} — ${load}: ${tail}`) : pass(`${load}: ${tail}; p99 < ${b.p99Ms} ms, 0 errors`);
}

/** Worker service ACTIVE with desired > 0 and running > 0; says where its TPM is (DESIGN.md). */
export async function checkWorker(ctx: CheckContext): Promise<CheckOutcome> {
  const { res } = ctx;
  const s = await ctx.probe.service(res.ecsCluster, res.ecsService);
  if (!s) return fail(`ECS service ${res.ecsService} not found in cluster ${res.ecsCluster}`);
  const problems: string[] = [];
  if (s.status !== 'ACTIVE') problems.push(`service is ${s.status}`);
  if (s.desired < 1) problems.push('desiredCount is 0 (scaled down, e.g. by a rollback)');
  else if (s.running < 1) problems.push(`no task running (desired ${s.desired}, pending ${s.pending})`);
  const launch = s.launchType ?? res.workerLaunchType;
  const tpm = launch === 'FARGATE' ? ` (Fargate: no TPM; audit_anchor must be none-explicit: a ${anchorLabel({ simulated: true })})` : '';
  return verdict(problems, `${res.ecsCluster}/${res.ecsService}: ${s.running}/${s.desired} running, ${launch ?? 'launch type unknown'}${tpm}`);
}

/** Recent stored items carry valid ML-DSA-87 signatures (what exactly: see the verifier). */
export async function checkStoredSignatures(ctx: CheckContext): Promise<CheckOutcome> {
  if (!ctx.pin) return fail('no --pin FINGERPRINT (or --keys DIR) to verify the signatures with');
  const v = ctx.verifiers.storedSignatures;
  if (!v) return fail('this build has no stored-signature verifier');
  const r = await v(ctx.probe, ctx.res, ctx.pin, ctx.sampleSize);
  if (r.failures.length) return fail(`${r.failures.length} invalid: ${r.failures.slice(0, 3).join('; ')} (${r.what})`);
  if (r.verified === 0) return fail(`nothing to verify yet (${r.what}): send a request first`);
  return pass(`${r.verified} valid: ${r.what}`);
}

/** CloudWatch log groups: no PEM armor, no "PRIVATE KEY", no long non-hex base64 runs. */
export async function checkLogsClean(ctx: CheckContext): Promise<CheckOutcome> {
  const since = ctx.now.getTime() - ctx.logWindowHours * 3600_000;
  const findings: LogFinding[] = [];
  const scanned: string[] = [];
  const problems: string[] = [];
  for (const group of ctx.res.logGroups) {
    const batch = await ctx.probe.logEvents(group, since, ctx.logEventCap);
    if (!batch) {
      problems.push(`log group ${group} not found (nothing could be scanned)`);
      continue;
    }
    for (const e of batch.events) findings.push(...scanLogMessage(group, e.timestamp, e.message));
    scanned.push(`${group}: ${batch.events.length} events${batch.truncated ? ` (first ${ctx.logEventCap} of the window)` : ''}`);
  }
  for (const f of findings.slice(0, 5)) problems.push(`${f.kind} in ${f.group} at ${new Date(f.timestamp).toISOString()}`);
  if (findings.length > 5) problems.push(`${findings.length - 5} more`);
  const what = `scanned the last ${ctx.logWindowHours} h for ${LOG_SCAN_PATTERNS.join(', ')} — ${scanned.join('; ') || 'no group'}`;
  return problems.length ? fail(`${problems.join('; ')} (${what})`) : pass(what);
}

/** The DLQ is empty: no request has failed processing N times. */
export async function checkDlqEmpty(ctx: CheckContext): Promise<CheckOutcome> {
  const q = await ctx.probe.queue(ctx.res.dlq);
  if (!q) return fail(`dead-letter queue ${ctx.res.dlq} not found`);
  if (q.approxMessages > 0) return fail(`${q.approxMessages} message(s) in ${ctx.res.dlq}: requests the worker could not process`);
  return pass(`${ctx.res.dlq} is empty (approximate count)`);
}
