/**
 * The highest key-set generation this user has seen, per root pin (SPEC §7.3 "Rollback"): the
 * CLI's memory between runs, so that `request` and `verify` refuse a keys document (or a response
 * certified by a generation) older than one already seen — a rotated, possibly leaked key set
 * served again by an active attacker.
 *
 *   $XDG_STATE_HOME/ima-qs/generations.json   (else ~/.ima-qs/generations.json; folder 0700, file 0600)
 *   {"v":1,"roots":{"<root pin>":{"generation":3,"signers":["<fp>"],"seen":"2026-11-28T12:00:00Z"}}}
 *
 * `signers`: the decisions signers that generation certifies — a response certified by an older
 * generation is still accepted when its signer is one of them (a signer kept across rotations).
 *
 * Read with a bound and the strict JSON reader; replaced atomically; only ever raised (a reset is
 * an explicit flag, --reset-generation). Two processes writing at once may lose one raise (the
 * next run records it again); neither can lower what the file holds below what both read.
 */
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { ensurePrivateDir, exists, readInputFile, writeFileAtomic } from '../io/files.js';
import { exactProblem, HEX64, isNat, isObj } from '../protocol/shape.js';
import { parseStrictJsonBytes } from '../protocol/strict-json.js';
import { isUtcTime } from '../protocol/utc-time.js';

const MAX_STATE_BYTES = 1 << 20;
const MAX_ROOTS = 4096;

export interface GenerationRecord {
  generation: number;
  signers: string[];
  seen: string;
}

export type Env = Record<string, string | undefined>;

/** The state folder: $XDG_STATE_HOME/ima-qs, else $HOME/.ima-qs; undefined when neither is known. */
export function generationStateDir(env: Env): string | undefined {
  if (env.XDG_STATE_HOME && env.XDG_STATE_HOME.startsWith('/')) return join(env.XDG_STATE_HOME, 'ima-qs');
  if (env.HOME && env.HOME.startsWith('/')) return join(env.HOME, '.ima-qs');
  return undefined;
}

export async function readGenerations(env: Env): Promise<Record<string, GenerationRecord>> {
  const dir = generationStateDir(env);
  if (!dir) return {};
  const path = join(dir, 'generations.json');
  if (!(await exists(path))) return {};
  const bytes = await readInputFile(path, MAX_STATE_BYTES, 'generation state', { tooLargeCode: 'BAD_GENERATION_STATE' });
  let v: unknown;
  try {
    v = parseStrictJsonBytes(bytes);
  } catch (cause) {
    throw new InputError('BAD_GENERATION_STATE', `${path} is not JSON`, { hint: 'remove it (the generations seen are then forgotten) or repair it', cause });
  }
  const e = exactProblem(v, ['v', 'roots'], 'the generation state');
  const roots = (v as { roots?: unknown })?.roots;
  if (e || (v as { v?: unknown }).v !== 1 || !isObj(roots) || Object.keys(roots).length > MAX_ROOTS) {
    throw new InputError('BAD_GENERATION_STATE', `${path} is not {"v":1,"roots":{…}}`, { hint: 'remove it (the generations seen are then forgotten) or repair it' });
  }
  for (const [pin, r] of Object.entries(roots)) {
    const g = r as GenerationRecord;
    if (
      !HEX64.test(pin) ||
      exactProblem(r, ['generation', 'signers', 'seen'], 'a root') ||
      !isNat(g.generation) ||
      !Array.isArray(g.signers) ||
      g.signers.length > 8 ||
      !g.signers.every((s) => typeof s === 'string' && HEX64.test(s)) ||
      !isUtcTime(g.seen, 'seconds')
    ) {
      throw new InputError('BAD_GENERATION_STATE', `${path}: the entry ${pin.slice(0, 16)}… is not {generation, signers, seen}`);
    }
  }
  return roots as Record<string, GenerationRecord>;
}

/** The highest generation recorded for a root pin (generation 0: none) and the signers it certifies. */
export async function highestSeen(env: Env, pin: string): Promise<{ generation: number; signers: string[] }> {
  const r = (await readGenerations(env))[pin];
  return { generation: r?.generation ?? 0, signers: r?.signers ?? [] };
}

async function write(env: Env, roots: Record<string, GenerationRecord>): Promise<void> {
  const dir = generationStateDir(env);
  if (!dir) return;
  await ensurePrivateDir(dir);
  await writeFileAtomic(join(dir, 'generations.json'), JSON.stringify({ v: 1, roots }, null, 2) + '\n', { mode: 0o600, force: true });
}

/** Raises the recorded generation of a root pin (never lowers it). */
export async function recordGeneration(env: Env, pin: string, generation: number, signers: string[], now: Date): Promise<void> {
  const roots = await readGenerations(env);
  if ((roots[pin]?.generation ?? 0) >= generation) return;
  roots[pin] = { generation, signers: signers.slice(0, 8), seen: now.toISOString().replace(/\.\d{3}Z$/, 'Z') };
  await write(env, roots);
}

/** --reset-generation: forgets what was seen for a root pin. */
export async function forgetGeneration(env: Env, pin: string): Promise<void> {
  const roots = await readGenerations(env);
  if (!(pin in roots)) return;
  delete roots[pin];
  await write(env, roots);
}
