/**
 * Detached signature files (SPEC §5): a small JSON document that signs a statement about a file —
 * its size and SHA3-512 digest (FIPS 202) — with ML-DSA-87 (FIPS 204) under the context string
 * 'ima-qs/v1/file' (SPEC §3). Signing a digest lets files of any size be signed in constant memory;
 * the size is signed too so a digest is never taken out of its length context.
 *
 * The signed message is the RFC 8785 canonical JSON of the document without its "signature"
 * member. Parsing is strict (exact member set, exact types, canonical hex and base64): an
 * unparseable file is bad input (exit 3); a well-formed file that does not verify is a "no"
 * (exit 1) that names the check that failed. Verification is pure and synchronous: the caller
 * hashes the file first (I/O in the command, sigstore-style), then this decides.
 */
import { InputError } from '../errors.js';
import { equalBytes, fromBase64, toBase64, toHex, utf8 } from '../crypto/bytes.js';
import { canonicalBytes } from '../crypto/canonical-json.js';
import { fingerprint } from '../crypto/key-codec.js';
import type { CryptoProvider, MlDsaPrivateKey } from '../crypto/provider.js';
import { SIGNATURE_CONTEXTS, signBytes, verifyBytes } from '../crypto/signature.js';
import { StrictJsonError, parseStrictJson } from './strict-json.js';

export const SIGNATURE_FILE_FORMAT = 'ima-qs/v1/signature';
export const SIGNATURE_ALGORITHM = 'ML-DSA-87';
export const ML_DSA_87_SIGNATURE_BYTES = 4627;
/** a signature file is about 6.3 KiB; anything much larger is not one */
export const MAX_SIGNATURE_FILE_BYTES = 64 * 1024;

/** What is signed about a file. */
export interface FileStatement {
  /** bytes */
  size: number;
  /** SHA3-512 of the file, 64 bytes */
  sha3_512: Uint8Array;
}

/** A parsed (or freshly made) signature file. */
export interface SignatureFile {
  format: typeof SIGNATURE_FILE_FORMAT;
  algorithm: typeof SIGNATURE_ALGORITHM;
  /** the ML-DSA context string the signature was made under */
  context: string;
  /** hex SHA3-256 of the signer's ML-DSA-87 SPKI DER */
  signer: string;
  file: { size: number; sha3_512: string };
  signature: Uint8Array;
}

export type FileCheckName = 'format' | 'signer' | 'digest' | 'signature';

export interface FileCheck {
  check: FileCheckName;
  ok: boolean;
  detail: string;
}

export interface FileVerification {
  ok: boolean;
  checks: FileCheck[];
  /** the first failed check, if any */
  failed?: FileCheck;
}

/** The exact bytes signed (SPEC §5.1): RFC 8785 JSON of the document without "signature". */
export function signedBytes(doc: Omit<SignatureFile, 'signature'>): Uint8Array {
  return canonicalBytes({
    format: doc.format,
    algorithm: doc.algorithm,
    context: doc.context,
    signer: doc.signer,
    file: { size: doc.file.size, sha3_512: doc.file.sha3_512 },
  });
}

export function createSignatureFile(p: CryptoProvider, key: MlDsaPrivateKey, statement: FileStatement): SignatureFile {
  checkStatement(statement);
  const body = {
    format: SIGNATURE_FILE_FORMAT,
    algorithm: SIGNATURE_ALGORITHM,
    context: SIGNATURE_CONTEXTS.file,
    signer: fingerprint('ML-DSA-87', key.publicKey),
    file: { size: statement.size, sha3_512: toHex(statement.sha3_512) },
  } as const;
  return { ...body, signature: signBytes(p, key, 'file', signedBytes(body)) };
}

/** The text of a signature file: pretty JSON in a fixed member order, LF line ends, final LF. */
export function encodeSignatureFile(sf: SignatureFile): string {
  const doc = {
    format: sf.format,
    algorithm: sf.algorithm,
    context: sf.context,
    signer: sf.signer,
    file: { size: sf.file.size, sha3_512: sf.file.sha3_512 },
    signature: toBase64(sf.signature),
  };
  return JSON.stringify(doc, null, 2) + '\n';
}

function checkStatement(s: FileStatement): void {
  if (!Number.isSafeInteger(s.size) || s.size < 0) throw new InputError('BAD_STATEMENT', 'file size must be a non-negative integer');
  if (!(s.sha3_512 instanceof Uint8Array) || s.sha3_512.length !== 64) {
    throw new InputError('BAD_STATEMENT', 'a SHA3-512 digest is 64 bytes');
  }
}

/** Parses a signature file strictly (SPEC §5.2). `source` names it in errors (a path). */
export function parseSignatureFile(text: string, source: string): SignatureFile {
  const bad = (why: string) =>
    new InputError('BAD_SIGNATURE_FILE', `${source} is not an ima-qs signature file: ${why}`, {
      hint: "make one with 'ima-qs sign --key DIR -o FILE.sig FILE'",
    });
  let doc: unknown;
  try {
    doc = parseStrictJson(text, { maxLength: MAX_SIGNATURE_FILE_BYTES }); // SPEC §3.3: one reading only (no duplicate members)
  } catch (err) {
    throw bad(err instanceof StrictJsonError ? `it is not strict JSON (${err.reason})` : 'it is not JSON');
  }
  if (!isObject(doc)) throw bad('it is not a JSON object');
  exactKeys(doc, ['format', 'algorithm', 'context', 'signer', 'file', 'signature'], bad, '');
  if (doc.format !== SIGNATURE_FILE_FORMAT) {
    throw new InputError(
      'UNSUPPORTED_SIGNATURE_FORMAT',
      `${source} has format ${JSON.stringify(doc.format)}; this ima-qs reads ${JSON.stringify(SIGNATURE_FILE_FORMAT)}`,
    );
  }
  if (doc.algorithm !== SIGNATURE_ALGORITHM) {
    throw new InputError(
      'UNSUPPORTED_ALGORITHM',
      `${source} is signed with ${JSON.stringify(doc.algorithm)}; ima-qs signature files use ${SIGNATURE_ALGORITHM}`,
    );
  }
  if (typeof doc.context !== 'string' || doc.context.length === 0 || doc.context.length > 255) {
    throw bad('"context" must be a string of 1 to 255 characters');
  }
  if (typeof doc.signer !== 'string' || !/^[0-9a-f]{64}$/.test(doc.signer)) {
    throw bad('"signer" must be 64 lowercase hex digits (a SHA3-256 key fingerprint)');
  }
  const file = doc.file;
  if (!isObject(file)) throw bad('"file" must be an object');
  exactKeys(file, ['size', 'sha3_512'], bad, 'file.');
  if (typeof file.size !== 'number' || !Number.isSafeInteger(file.size) || file.size < 0) {
    throw bad('"file.size" must be a non-negative integer');
  }
  if (typeof file.sha3_512 !== 'string' || !/^[0-9a-f]{128}$/.test(file.sha3_512)) {
    throw bad('"file.sha3_512" must be 128 lowercase hex digits');
  }
  if (typeof doc.signature !== 'string') throw bad('"signature" must be base64 text');
  let signature: Uint8Array;
  try {
    signature = fromBase64(doc.signature, '"signature"');
  } catch (err) {
    throw bad(err instanceof Error ? err.message : '"signature" is not valid base64'); // SPEC §5.2: BAD_SIGNATURE_FILE
  }
  if (signature.length !== ML_DSA_87_SIGNATURE_BYTES) {
    throw bad(`"signature" is ${signature.length} bytes; an ML-DSA-87 signature is ${ML_DSA_87_SIGNATURE_BYTES}`);
  }
  return {
    format: SIGNATURE_FILE_FORMAT,
    algorithm: SIGNATURE_ALGORITHM,
    context: doc.context,
    signer: doc.signer,
    file: { size: file.size, sha3_512: file.sha3_512 },
    signature,
  };
}

/**
 * Runs every check and reports each (SPEC §5.3): format (the context is the file context),
 * signer (the fingerprint in the file is the key's), digest (size and SHA3-512 match the file),
 * signature (ML-DSA-87 verifies over the signed bytes under 'ima-qs/v1/file').
 */
export function verifySignatureFile(
  p: CryptoProvider,
  sf: SignatureFile,
  publicKey: Uint8Array,
  actual: FileStatement,
): FileVerification {
  const checks: FileCheck[] = [];
  const fileCtx = SIGNATURE_CONTEXTS.file;
  checks.push(
    sf.context === fileCtx
      ? { check: 'format', ok: true, detail: `${sf.format}, ${sf.algorithm}, context ${fileCtx}` }
      : { check: 'format', ok: false, detail: `context is ${JSON.stringify(sf.context)}, not ${JSON.stringify(fileCtx)}: not a file signature` },
  );
  const keyFp = fingerprint('ML-DSA-87', publicKey);
  checks.push(
    equalBytes(utf8(sf.signer), utf8(keyFp)) // constant time, as every fingerprint comparison
      ? { check: 'signer', ok: true, detail: `signed by ${keyFp}` }
      : { check: 'signer', ok: false, detail: `signed by ${sf.signer}, not by the given key ${keyFp}` },
  );
  const digest = toHex(actual.sha3_512);
  const sizeOk = sf.file.size === actual.size;
  const digestOk = sf.file.sha3_512 === digest;
  checks.push(
    sizeOk && digestOk
      ? { check: 'digest', ok: true, detail: `${actual.size} bytes, SHA3-512 ${digest.slice(0, 16)}…` }
      : {
          check: 'digest',
          ok: false,
          detail: sizeOk
            ? `SHA3-512 of the file is ${digest.slice(0, 16)}…, the signature is for ${sf.file.sha3_512.slice(0, 16)}…: the file changed`
            : `the file is ${actual.size} bytes, the signature is for ${sf.file.size} bytes: the file changed`,
        },
  );
  // always computed over what the file claims, so a bad signature is reported even if an
  // earlier check already failed (the operator sees every reason at once)
  const sigOk = verifyBytes(p, publicKey, 'file', signedBytes(sf), sf.signature);
  checks.push(
    sigOk
      ? { check: 'signature', ok: true, detail: `${SIGNATURE_ALGORITHM} signature verifies` }
      : { check: 'signature', ok: false, detail: `${SIGNATURE_ALGORITHM} signature does not verify with this key` },
  );
  const failed = checks.find((c) => !c.ok);
  return { ok: !failed, checks, ...(failed ? { failed } : {}) };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function exactKeys(o: Record<string, unknown>, keys: string[], bad: (why: string) => InputError, prefix: string): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) throw bad(`unknown member "${prefix}${k}"`);
  for (const k of keys) if (!(k in o)) throw bad(`missing member "${prefix}${k}"`);
}
