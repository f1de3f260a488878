/**
 * The small readers of `ima-qs audit` (audit.ts): number and seconds flags, the newest entries
 * over the chains, one entry by seq or digest prefix.
 */
import type { AuditRecord } from '../audit/audit-entry.js';
import type { AuditStore } from '../audit/audit-store.js';
import { readCore } from '../audit/audit-verify.js';
import { InputError, UsageError } from '../errors.js';
import { type AuditSource, selectChains } from './audit-source.js';

export function wholeNumber(v: string | undefined, flag: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,15}$/.test(v) || Number(v) > max) throw new InputError('BAD_NUMBER', `${flag} ${v.slice(0, 20)} is not a whole number from 0 to ${max}`);
  return Number(v);
}

export function seconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const s = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !(s > 0) || s > 86_400) throw new InputError('BAD_SECONDS', `${flag} ${v.slice(0, 20)} is not a number of seconds between 0 and 86400`);
  return s;
}

/** Newest `n` entries over the chains, oldest first. */
export async function newest(store: AuditStore, chains: string[], n: number): Promise<AuditRecord[]> {
  const all: AuditRecord[] = [];
  for (const c of chains) all.push(...(await store.range(c, { descending: true, limit: n })));
  const time = (r: AuditRecord) => readCore(r)?.time ?? '';
  all.sort((a, b) => (time(a) === time(b) ? a.seq - b.seq : time(a) < time(b) ? -1 : 1));
  return all.slice(Math.max(0, all.length - n));
}

export async function findEntry(source: AuditSource, id: string, chain: string | undefined): Promise<AuditRecord> {
  const chains = await selectChains(source.store, chain);
  if (/^\d{1,15}$/.test(id)) {
    if (chains.length > 1) {
      throw new UsageError('AUDIT_CHAIN_REQUIRED', `${source.label} has ${chains.length} chains: say which with --chain`, { hint: `chains: ${chains.slice(0, 5).join(', ')}` });
    }
    const rec = chains.length ? await source.store.get(chains[0], Number(id)) : undefined;
    if (!rec) throw new InputError('AUDIT_ENTRY_NOT_FOUND', `no audit entry ${id}${chains[0] ? ` in chain ${chains[0]}` : ''}`);
    return rec;
  }
  const prefix = id.toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(prefix)) {
    throw new InputError('BAD_AUDIT_ID', `"${id.slice(0, 70)}" is neither a sequence number nor a hex decision id (8 to 64 hex digits)`);
  }
  const hits: AuditRecord[] = [];
  for (const c of chains) {
    let next = 0;
    for (;;) {
      const page = await source.store.range(c, { from: next, limit: 256 });
      for (const r of page) {
        const core = readCore(r);
        if (core && (core.decision_digest.startsWith(prefix) || core.request_digest.startsWith(prefix))) hits.push(r);
      }
      if (page.length < 256) break;
      next = page[page.length - 1].seq + 1;
    }
  }
  if (!hits.length) throw new InputError('AUDIT_ENTRY_NOT_FOUND', `no audit entry has decision or request digest ${prefix}…`);
  if (hits.length > 1) throw new InputError('AUDIT_ID_AMBIGUOUS', `${hits.length} entries match ${prefix}…`, { hint: 'give more hex digits' });
  return hits[0];
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
