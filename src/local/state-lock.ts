/**
 * The state directory's lock (SPEC §9 STATE/local.lock): one `local up` per folder.
 */
import { open, rm } from 'node:fs/promises';
import { PreconditionError, toImaError } from '../errors.js';
import { readInputFile } from '../io/files.js';

/** One `local up` per state directory: a lock file with the owner's pid (a stale one is taken over). */
export async function takeLock(path: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw toImaError(err);
      const pid = Number((await readInputFile(path, 64, 'lock file').catch(() => '')).toString().trim());
      let alive = false;
      if (Number.isInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (alive) {
        throw new PreconditionError('STATE_IN_USE', `the state directory is in use by another local stack (pid ${pid})`, {
          hint: 'stop that one first, or pass another --state directory',
        });
      }
      await rm(path, { force: true });
    }
  }
  throw new PreconditionError('STATE_IN_USE', 'could not lock the state directory');
}
