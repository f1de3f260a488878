/**
 * One signing thread of the SigningPool: holds the ML-DSA-87 key (expanded once from its seed),
 * signs canonical bytes with the context of the asked purpose (SPEC §3), answers with the
 * signature. Uses the node provider: native ML-DSA where the runtime has it (Node ≥ 24.7).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { getProvider } from '../../crypto/providers.js';
import { signBytes, type SignaturePurpose } from '../../crypto/signature.js';

const p = getProvider('node');
const secret = (workerData.seed ?? workerData.expanded) as Uint8Array;
const key = workerData.seed ? p.mldsa87.fromSeed(secret) : p.mldsa87.fromExpanded(secret);

parentPort!.on('message', (m: { id: number; purpose: SignaturePurpose; bytes: Uint8Array }) => {
  try {
    const sig = signBytes(p, key, m.purpose, m.bytes);
    parentPort!.postMessage({ id: m.id, sig }, [sig.buffer as ArrayBuffer]);
  } catch (err) {
    parentPort!.postMessage({ id: m.id, error: (err as { code?: string }).code ?? 'SIGN_FAILED' });
  }
});
parentPort!.postMessage({ ready: true, native: p.nativePq });
