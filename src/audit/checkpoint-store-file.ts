/**
 * `CheckpointStore` on a folder (STATE/checkpoints for the local stack, or AUDIT_CHECKPOINTS=/path):
 * each object is a file at <root>/<key>, written once (a temp file linked into place with link(2),
 * which fails instead of replacing) and left read-only (0444). One version per file. This stops an
 * honest writer from overwriting a checkpoint; it cannot stop someone who may delete files in the
 * folder — `audit verify` still sees a checkpoint missing between two others (the `prev` links),
 * but not the newest one gone (SPEC §8.11: use the S3 bucket with Object Lock for that).
 */
import { readdir } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { InputError } from '../errors.js';
import { ensurePrivateDir, exists, readInputFile, writeFileAtomic } from '../io/files.js';
import { MAX_STORED_DOCUMENT } from '../protocol/checkpoint.js';
import type { CheckpointStore, ObjectVersion } from './checkpoint-store.js';

const KEY_RE = /^[A-Za-z0-9._%-]+(\/[A-Za-z0-9._%-]+)*$/;

export class FileCheckpointStore implements CheckpointStore {
  readonly label: string;

  constructor(private readonly root: string) {
    this.label = root;
  }

  private path(key: string): string {
    // keys are ours (registry/…, checkpoints/…): no `..`, no absolute path, no other character
    if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) throw new InputError('BAD_OBJECT_KEY', `"${key.slice(0, 80)}" is not a checkpoint store key`);
    return join(this.root, ...key.split('/'));
  }

  async putOnce(key: string, body: Uint8Array): Promise<'created' | 'exists'> {
    const path = this.path(key);
    await ensurePrivateDir(dirname(path));
    if (await exists(path)) return 'exists';
    try {
      await writeFileAtomic(path, body, { mode: 0o444 });
      return 'created';
    } catch (err) {
      if ((err as InputError).code === 'FILE_EXISTS') return 'exists';
      throw err;
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const path = this.path(key);
    if (!(await exists(path))) return undefined;
    return readInputFile(path, MAX_STORED_DOCUMENT, 'checkpoint store object');
  }

  async keys(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string) => {
      let names: import('node:fs').Dirent[];
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const d of names) {
        const p = join(dir, d.name);
        if (d.isDirectory()) await walk(p);
        else if (d.isFile() && !d.name.startsWith('.')) {
          const key = relative(this.root, p).split(sep).join('/');
          if (key.startsWith(prefix)) out.push(key);
        }
      }
    };
    // walk only the part of the tree the prefix names
    const base = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(base ? join(this.root, ...base.split('/')) : this.root);
    return out.sort();
  }

  async versions(prefix: string): Promise<ObjectVersion[]> {
    return (await this.keys(prefix)).map((key) => ({ key, version: 'file', deleteMarker: false }));
  }

  async getVersion(v: ObjectVersion): Promise<Uint8Array> {
    const got = await this.get(v.key);
    if (!got) throw new InputError('FILE_NOT_FOUND', `${this.label}: ${v.key} is gone`);
    return got;
  }
}
