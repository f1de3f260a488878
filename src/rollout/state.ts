/**
 * Rollout progress, persisted as JSON in a state file (default `.ima-qs/rollout.json` under the
 * working folder, or `--state FILE`), replaced atomically on every write so an interrupted run never
 * leaves half a file. Format (version 1):
 *
 *   {"version":1,"updated":"ISO-8601","items":{"d1.kms-key":{"status":"pass","at":"…","detail":"…",
 *    "account":"123456789012"}, "d0.plan-reviewed":{"status":"confirmed","at":"…","by":"--yes"}}}
 *
 * Only results are stored (statuses, details, account ids): never key material.
 */
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { exists, fsError, readInputFile, writeFileAtomic } from '../io/files.js';
import { parseStrictJson } from '../protocol/strict-json.js';

/** warn: an automated check that found nothing wrong but could not confirm either (not done, not failed) */
export type ItemStatus = 'pass' | 'warn' | 'fail' | 'pending' | 'confirmed' | 'skipped';

export interface ItemRecord {
  status: ItemStatus;
  /** when it was last checked or confirmed */
  at: string;
  detail?: string;
  /** how a manual item was confirmed: prompt, --yes, --confirm */
  by?: string;
  /** the AWS account an automated check ran against */
  account?: string;
}

export interface RolloutState {
  version: 1;
  updated?: string;
  items: Record<string, ItemRecord>;
}

export const DEFAULT_STATE_PATH = '.ima-qs/rollout.json';
const MAX_STATE_BYTES = 1 << 20;
const STATUSES = new Set<ItemStatus>(['pass', 'warn', 'fail', 'pending', 'confirmed', 'skipped']);

export function statePath(cwd: string, flag?: string): string {
  return resolve(cwd, flag ?? DEFAULT_STATE_PATH);
}

/** Reads the state file; a missing file is an empty state. */
export async function loadState(path: string): Promise<RolloutState> {
  if (!(await exists(path))) return { version: 1, items: {} };
  const text = (await readInputFile(path, MAX_STATE_BYTES, 'rollout state file', { tooLargeCode: 'BAD_ROLLOUT_STATE' })).toString('utf8');
  let doc: unknown;
  try {
    doc = parseStrictJson(text);
  } catch {
    throw new InputError('BAD_ROLLOUT_STATE', `${path} is not JSON`, { hint: 'move it aside (it is recreated) or pass another --state FILE' });
  }
  const o = doc as Partial<RolloutState> | null;
  if (!o || typeof o !== 'object' || o.version !== 1 || !o.items || typeof o.items !== 'object' || Array.isArray(o.items)) {
    throw new InputError('BAD_ROLLOUT_STATE', `${path} is not an ima-qs rollout state file (version 1)`, {
      hint: 'move it aside (it is recreated) or pass another --state FILE',
    });
  }
  const items: Record<string, ItemRecord> = {};
  for (const [id, r] of Object.entries(o.items)) {
    if (!/^d[0-9]\.[a-z0-9-]{1,60}$/.test(id) || !r || typeof r !== 'object' || !STATUSES.has((r as ItemRecord).status)) {
      throw new InputError('BAD_ROLLOUT_STATE', `${path}: entry "${id.slice(0, 40)}" is malformed`, { hint: 'move the file aside or fix the entry' });
    }
    items[id] = r as ItemRecord;
  }
  return { version: 1, updated: typeof o.updated === 'string' ? o.updated : undefined, items };
}

export async function saveState(path: string, state: RolloutState, now: Date): Promise<void> {
  const doc: RolloutState = { version: 1, updated: now.toISOString(), items: state.items };
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw fsError(err, dirname(path), 'create');
  }
  await writeFileAtomic(path, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600, force: true });
}

/** Done = passed (auto) or confirmed (manual). */
export function isDone(r: ItemRecord | undefined): boolean {
  return r?.status === 'pass' || r?.status === 'confirmed';
}
