/**
 * `SigningPool`: a `Signer` on worker threads, one per core by default (DESIGN.md: 21 vote
 * signatures + 1 decision ≈ 175 ms of pure-JS CPU; native ML-DSA and parallelism bring it down).
 * The canonical bytes (RFC 8785) are computed on the calling thread (or given by it) and copied to
 * the thread (a few KB per vote); each thread holds its own copy of the key. Signatures come back in input order.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { MlDsaPrivateKey } from '../../crypto/provider.js';
import { ImaError } from '../../errors.js';
import { signedBytes, type SignRequest, type Signer } from '../../crypto/signer.js';

interface Pending {
  resolve(sig: Uint8Array): void;
  reject(err: Error): void;
}

export class SigningPool implements Signer {
  private next = 0;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();

  private constructor(
    private readonly workers: Worker[],
    readonly publicKey: Uint8Array,
    /** true when the threads sign with native ML-DSA */
    readonly native: boolean,
  ) {
    for (const w of workers) {
      w.on('message', (m: { id: number; sig?: Uint8Array; error?: string }) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.sig) p.resolve(new Uint8Array(m.sig));
        else p.reject(new ImaError('internal', m.error ?? 'SIGN_FAILED', 'a signing thread failed'));
      });
      w.on('error', (err) => {
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
      });
    }
  }

  get size(): number {
    return this.workers.length;
  }

  static async start(key: MlDsaPrivateKey, opts: { threads?: number } = {}): Promise<SigningPool> {
    const n = Math.max(1, opts.threads ?? availableParallelism());
    // From dist/*.js (the CLI, bundles) the thread is the sibling .js. From src/*.ts (tests under
    // vitest or tsx) it is the built copy in dist/ when there is one (npm test builds first):
    // Node 20 cannot load a .ts worker even with `--import tsx` in execArgv; Node ≥ 22.18 can.
    let ts = import.meta.url.endsWith('.ts');
    let url = new URL(ts ? './sign-thread.ts' : './sign-thread.js', import.meta.url);
    if (ts) {
      const built = new URL('../../../dist/service/worker/sign-thread.js', import.meta.url);
      if (existsSync(built)) {
        url = built;
        ts = false;
      }
    }
    const workers: Worker[] = [];
    let native = false;
    try {
      for (let i = 0; i < n; i++) {
        const workerData = key.seed ? { seed: key.seed.slice() } : { expanded: key.expandedKey!.slice() };
        // from .ts sources (tests) the thread needs the tsx loader; the built .js (dist/, bundles) does not
        const w = new Worker(url, { workerData, ...(ts ? { execArgv: ['--import', 'tsx'] } : {}) });
        workers.push(w);
        native = await new Promise<boolean>((resolve, reject) => {
          w.once('message', (m: { ready?: boolean; native?: boolean }) => resolve(Boolean(m.native)));
          w.once('error', reject);
        });
      }
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw new ImaError('internal', 'SIGNING_POOL_FAILED', 'the signing threads did not start', { cause: err });
    }
    return new SigningPool(workers, key.publicKey, native);
  }

  signAll(items: readonly SignRequest[]): Promise<Uint8Array[]> {
    return Promise.all(
      items.map(
        (it) =>
          new Promise<Uint8Array>((resolve, reject) => {
            const id = this.seq++;
            this.pending.set(id, { resolve, reject });
            const w = this.workers[this.next++ % this.workers.length];
            w.postMessage({ id, purpose: it.purpose, bytes: signedBytes(it) });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
