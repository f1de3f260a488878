/**
 * The audit recipient (SPEC §8.7, §8.8; issue 7 §1): the composite ML-KEM-768 + P-384 public key
 * every audit payload is sealed to. By default it is the service's own key, so the service key
 * folder (`--identity DIR`) reads the payloads; an operator may name a separate auditor key —
 * worker `AUDIT_RECIPIENT`, `ima-qs local up --audit-recipient` — so that only the auditor can.
 *
 * A configured auditor key that cannot be read is a start-up failure (InputError, exit 3): the
 * worker never falls back to the service key, which would seal to the wrong party unnoticed.
 */
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { ImaError, InputError } from '../errors.js';
import { resolveRecipient } from '../keys/key-args.js';

export interface AuditRecipient {
  /** composite public key, 1281 bytes (mlkemPK ‖ P-384 point) */
  publicKey: Uint8Array;
  /** fingerprint('MLKEM768-P384', publicKey): the `recipient` of every entry (SPEC §1.4) */
  fingerprint: string;
  /** "service key" or the path of the auditor key, for start-up tables and logs */
  source: string;
}

/** The service's own composite key as the audit recipient (the default). */
export function serviceRecipient(publicKey: Uint8Array, source = 'service key'): AuditRecipient {
  return { publicKey, fingerprint: fingerprint('MLKEM768-P384', publicKey), source };
}

/**
 * A separate auditor key: a key folder of the `keys generate` layout (its ml_kem_768_public.key
 * and ecdh_p384_public.key; no private key is read) or a composite MLKEM768-P384 public key PEM
 * file. `setting` names where the path came from in the error ("AUDIT_RECIPIENT",
 * "--audit-recipient"); a relative path is taken from `cwd` (default: the process's).
 */
export async function loadAuditRecipient(p: CryptoProvider, path: string, setting: string, cwd = '.'): Promise<AuditRecipient> {
  if (!path.trim()) throw new InputError('AUDIT_RECIPIENT_INVALID', `${setting} is empty; it names the auditor key folder or composite public key file`);
  let publicKey: Uint8Array;
  try {
    publicKey = await resolveRecipient(p, path, cwd);
  } catch (err) {
    if (!(err instanceof ImaError) || err.errorClass === 'internal') throw err; // a bug stays a bug
    const e = err;
    throw new InputError('AUDIT_RECIPIENT_INVALID', `the audit recipient ${setting}=${path.slice(0, 200)} cannot be used: ${e.message}`, {
      hint: 'give the auditor key folder written by `ima-qs keys generate` (its ML-KEM-768 and P-384 public keys) or a composite MLKEM768-P384 public key file; the worker does not fall back to the service key',
      details: { cause: e.code },
      cause: err,
    });
  }
  return { publicKey, fingerprint: fingerprint('MLKEM768-P384', publicKey), source: path };
}
