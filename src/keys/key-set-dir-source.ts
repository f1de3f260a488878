/**
 * Key-set generations in a folder (SPEC §7.2, §9): the worker's `KEYS_DIR` and `local up`'s STATE.
 *
 *   DIR/stages.json   {"current":"keys","pending":"keys-g2","previous":"…"}   (written atomically)
 *   DIR/<name>/       a certified key folder (SPEC §2.4 + keyset.json), one per generation
 *
 * Without stages.json, DIR itself is a certified key folder: the one current generation. The
 * stages file is replaced in one rename, so a reader sees either the old or the new stages,
 * never a mix: the same guarantee the single key-set secret gives on AWS. The phase functions
 * (publish → switch → retire) are the file-system twin of `keys rotate`.
 */
import { join } from 'node:path';
import type { CryptoProvider } from '../crypto/provider.js';
import { InputError, PreconditionError } from '../errors.js';
import { exists, isDirectory, readInputFile, writeFileAtomic } from '../io/files.js';
import { parseStrictJsonBytes } from '../protocol/strict-json.js';
import type { SignedKeySet } from '../protocol/keyset.js';
import { exactProblem } from '../protocol/shape.js';
import { loadKeySetDir } from './key-set-files.js';
import type { KeySetSource, KeySetStage, KeySetVersion } from './key-ring.js';

export const STAGES_FILE = 'stages.json';
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export type Stages = { current: string; pending?: string; previous?: string };

export async function readStages(dir: string): Promise<Stages | undefined> {
  const path = join(dir, STAGES_FILE);
  if (!(await exists(path))) return undefined;
  const bytes = await readInputFile(path, 4096, 'stages file', { tooLargeCode: 'STAGES_MALFORMED' });
  let v: unknown;
  try {
    v = parseStrictJsonBytes(bytes);
  } catch (cause) {
    throw new InputError('STAGES_MALFORMED', `${path} is not JSON`, { cause });
  }
  const o = v as Record<string, unknown>;
  const keys = ['current', ...(o && typeof o === 'object' && 'pending' in o ? ['pending'] : []), ...(o && typeof o === 'object' && 'previous' in o ? ['previous'] : [])];
  const e = exactProblem(v, keys, 'the stages file');
  if (e || keys.some((k) => typeof o[k] !== 'string' || !NAME_RE.test(o[k] as string))) {
    throw new InputError('STAGES_MALFORMED', `${path} is not {current, pending?, previous?} of folder names`);
  }
  return v as Stages;
}

async function writeStages(dir: string, s: Stages): Promise<void> {
  const ordered: Stages = { current: s.current, ...(s.pending ? { pending: s.pending } : {}), ...(s.previous ? { previous: s.previous } : {}) };
  await writeFileAtomic(join(dir, STAGES_FILE), JSON.stringify(ordered) + '\n', { mode: 0o600, force: true });
}

export class DirKeySetSource implements KeySetSource {
  readonly name: string;

  constructor(
    private readonly p: CryptoProvider,
    private readonly dir: string,
  ) {
    this.name = `folder ${dir}`;
  }

  async load(): Promise<KeySetVersion[]> {
    const stages = await readStages(this.dir);
    const entries: [KeySetStage, string][] = stages
      ? (Object.entries(stages) as [KeySetStage, string][]).map(([stage, name]) => [stage, join(this.dir, name)])
      : [['current', this.dir]];
    const out: KeySetVersion[] = [];
    for (const [stage, folder] of entries) {
      const k = await loadKeySetDir(this.p, folder);
      out.push({ stage, keyset: k.keyset, root: k.root, keys: { mlkem: k.keys.mlkem, ecdh: k.keys.ecdh, audit: k.audit, ...(k.signerInFolder ? { mldsa: k.keys.mldsa } : {}) }, source: folder });
    }
    return out;
  }
}

/** The statements a folder of generations publishes: current, then pending and previous (accepted). */
export async function publishedStatements(p: CryptoProvider, dir: string): Promise<{ root: Uint8Array; current: SignedKeySet; accepted: SignedKeySet[] }> {
  const versions = await new DirKeySetSource(p, dir).load();
  const by = (s: KeySetStage) => versions.find((v) => v.stage === s);
  const current = by('current')!;
  return { root: current.root, current: current.keyset, accepted: [by('pending'), by('previous')].flatMap((v) => (v ? [v.keyset] : [])) };
}

/** Rotation phase 1 on a folder: `name` (a certified key folder inside `dir`) becomes pending. */
export async function publishGeneration(p: CryptoProvider, dir: string, name: string): Promise<Stages> {
  const s = (await readStages(dir)) ?? undefined;
  if (!s) throw new PreconditionError('NO_STAGES', `${dir} has no ${STAGES_FILE}: it holds one generation and cannot rotate`);
  if (!NAME_RE.test(name) || !(await isDirectory(join(dir, name)))) throw new InputError('NOT_A_DIRECTORY', `${name} is not a key folder inside ${dir}`);
  if (s.pending && s.pending !== name) throw new PreconditionError('ROTATION_IN_PROGRESS', `${s.pending} is already pending; switch to it or retire it first`);
  if (s.previous) throw new PreconditionError('ROTATION_IN_PROGRESS', `${s.previous} is not retired yet`);
  const next = (await loadKeySetDir(p, join(dir, name))).keyset.statement.generation;
  const cur = (await loadKeySetDir(p, join(dir, s.current))).keyset.statement.generation;
  if (next <= cur) throw new PreconditionError('KEYSET_NOT_NEWER', `${name} is generation ${next}; the current one is ${cur}`);
  const out = { ...s, pending: name };
  await writeStages(dir, out);
  return out;
}

/** Rotation phase 2: the pending generation becomes current; the current one previous (still decrypted). */
export async function switchGeneration(dir: string): Promise<Stages> {
  const s = await readStages(dir);
  if (!s?.pending) throw new PreconditionError('NOTHING_PENDING', `${dir} has no pending generation to switch to`);
  const out: Stages = { current: s.pending, previous: s.current };
  await writeStages(dir, out);
  return out;
}

/** Rotation phase 3: the previous generation is no longer decrypted. */
export async function retireGeneration(dir: string): Promise<Stages> {
  const s = await readStages(dir);
  if (!s?.previous) throw new PreconditionError('NOTHING_TO_RETIRE', `${dir} has no previous generation to retire`);
  const out: Stages = { current: s.current, ...(s.pending ? { pending: s.pending } : {}) };
  await writeStages(dir, out);
  return out;
}

/** Starts a stages file naming an existing key folder as current (a stack's first start). */
export async function initStages(dir: string, current: string): Promise<void> {
  if (await exists(join(dir, STAGES_FILE))) return;
  await writeStages(dir, { current });
}
