/**
 * The four file operations behind `encrypt`, `decrypt`, `sign` and `verify` (and the demo): read
 * through the stream edges, call one core function, return plain data. Rendering is in
 * file-crypto.ts. Constant memory for inputs of any size (SPEC §4.6, §5.1).
 */
import { createHash } from 'node:crypto';
import type { CliDeps } from '../context.js';
import { resolve } from 'node:path';
import { InputError, UsageError, VerificationError } from '../errors.js';
import { Progress } from '../output.js';
import { armorEncode } from '../crypto/armor.js';
import { toHex } from '../crypto/bytes.js';
import { SUITE_NAME } from '../crypto/envelope.js';
import { decryptAnyStream, encryptStream } from '../crypto/envelope-stream.js';
import { defaultProvider } from '../crypto/providers.js';
import type { CryptoProvider } from '../crypto/provider.js';
import { fingerprint } from '../crypto/key-codec.js';
import {
  MAX_SIGNATURE_FILE_BYTES,
  createSignatureFile,
  encodeSignatureFile,
  parseSignatureFile,
  verifySignatureFile,
  type FileStatement,
  type FileVerification,
} from '../protocol/signature-file.js';
import { readInputFile } from '../io/files.js';
import { type Input, openInput, openOutput, pump } from '../io/stream-files.js';
import { resolveIdentity, resolveRecipient, resolveSigningKey, resolveVerifyKey } from '../keys/key-args.js';

export interface EncryptOptions {
  input?: string;
  output?: string;
  to: string;
  armor?: boolean;
  force?: boolean;
}

export interface EncryptResult {
  input: string;
  output: string;
  recipient: string;
  suite: string;
  armor: boolean;
  plaintextBytes: number;
  outputBytes: number;
}

export async function encryptFile(deps: CliDeps, o: EncryptOptions, p: CryptoProvider = defaultProvider()): Promise<EncryptResult> {
  const recipientKey = await resolveRecipient(p, o.to, deps.cwd);
  const inp = await openInput(o.input, deps);
  let plaintextBytes = 0;
  let recipient = '';
  const progress = new Progress(deps.stderr, 'encrypting', inp.size);
  try {
    const out = await openOutput(o.output, deps, { force: o.force, mode: 0o644 });
    const sealed = encryptStream(p, recipientKey, inp.source, {
      onHeader: (h) => (recipient = toHex(h.subarray(8, 40))),
      onProgress: (n) => {
        plaintextBytes = n;
        progress.update(n);
      },
    });
    const outputBytes = await pump(o.armor ? armorEncode(sealed) : sealed, out);
    return { input: inp.name, output: out.name, recipient, suite: SUITE_NAME, armor: Boolean(o.armor), plaintextBytes, outputBytes };
  } finally {
    progress.done();
    await inp.close();
  }
}

export interface DecryptOptions {
  input?: string;
  output?: string;
  identity: string;
  force?: boolean;
}

export interface DecryptResult {
  input: string;
  output: string;
  recipient: string;
  armored: boolean;
  plaintextBytes: number;
}

/**
 * Decrypts to a temp file renamed onto the target only after the final chunk authenticated, or to
 * stdout chunk by authenticated chunk (SPEC §4.6). Never leaves a partial output file.
 */
export async function decryptFile(deps: CliDeps, o: DecryptOptions, p: CryptoProvider = defaultProvider()): Promise<DecryptResult> {
  const key = await resolveIdentity(p, o.identity, deps.cwd);
  const inp = await openInput(o.input, deps);
  let recipient = '';
  let armored = false;
  const progress = new Progress(deps.stderr, 'decrypting', inp.size);
  let written = 0;
  let toStdout = false;
  try {
    const out = await openOutput(o.output, deps, { force: o.force, mode: 0o600 });
    toStdout = out.toStdout;
    const plain = decryptAnyStream(p, key, inp.source, {
      onHeader: (h) => (recipient = toHex(h.fingerprint)),
      onArmor: (a) => (armored = a),
      onProgress: (n) => progress.update(n),
    });
    const counted = (async function* () {
      for await (const c of plain) {
        yield c;
        written += c.length;
      }
    })();
    const plaintextBytes = await pump(counted, out);
    return { input: inp.name, output: out.name, recipient, armored, plaintextBytes };
  } catch (err) {
    if (toStdout && written > 0 && err instanceof VerificationError) {
      throw new VerificationError(err.code, err.message, {
        hint: `${written} bytes of authenticated plaintext were already written to stdout: they are incomplete, discard them`,
        cause: err,
      });
    }
    throw err;
  } finally {
    progress.done();
    await inp.close();
  }
}

/** Size and SHA3-512 of an input, streamed (FIPS 202; native SHA3 in node:crypto). */
export async function hashInput(inp: Input, progress?: Progress): Promise<FileStatement> {
  const h = createHash('sha3-512');
  let size = 0;
  for await (const piece of inp.source) {
    h.update(piece);
    size += piece.length;
    progress?.update(size);
  }
  return { size, sha3_512: new Uint8Array(h.digest()) };
}

async function statementOf(deps: CliDeps, file: string, label: string): Promise<{ name: string; statement: FileStatement }> {
  const inp = await openInput(file, deps);
  const progress = new Progress(deps.stderr, label, inp.size);
  try {
    return { name: inp.name, statement: await hashInput(inp, progress) };
  } finally {
    progress.done();
    await inp.close();
  }
}

export interface SignOptions {
  file: string;
  key: string;
  output?: string;
  force?: boolean;
}

export interface SignResult {
  file: string;
  signature: string;
  signer: string;
  size: number;
  sha3_512: string;
}

export async function signFile(deps: CliDeps, o: SignOptions, p: CryptoProvider = defaultProvider()): Promise<SignResult> {
  const key = await resolveSigningKey(p, o.key, deps.cwd);
  const target = o.output ?? (o.file === '-' ? '-' : `${o.file}.sig`);
  const out = await openOutput(target, deps, { force: o.force, mode: 0o644 });
  try {
    const { name, statement } = await statementOf(deps, o.file, 'hashing');
    const sf = createSignatureFile(p, key, statement);
    await pump([new TextEncoder().encode(encodeSignatureFile(sf))], out);
    return { file: name, signature: out.name, signer: sf.signer, size: statement.size, sha3_512: sf.file.sha3_512 };
  } catch (err) {
    await out.abort();
    throw err;
  }
}

export interface VerifyOptions {
  file: string;
  signature: string;
  key: string;
}

export interface VerifyResult extends FileVerification {
  file: string;
  signatureFile: string;
  signer: string;
  keyFingerprint: string;
}

/**
 * File-signature verification (SPEC §5.3). Bad input (unreadable or malformed signature file, wrong
 * key type) throws InputError; a well-formed signature that does not check out is returned with
 * `ok: false` and the failed check — the caller turns that into exit 1.
 */
export async function verifyFile(deps: CliDeps, o: VerifyOptions, p: CryptoProvider = defaultProvider()): Promise<VerifyResult> {
  const sigPath = o.signature;
  if (sigPath === '-' && o.file === '-') throw new UsageError('STDIN_TWICE', 'the signed file and the signature cannot both come from stdin');
  // SPEC §5.2: a file over 64 KiB is BAD_SIGNATURE_FILE, read with a bound whatever it is (FIFO, device)
  const raw = await readInputFile(sigPath === '-' ? '-' : resolve(deps.cwd, sigPath), MAX_SIGNATURE_FILE_BYTES, 'signature file', {
    tooLargeCode: 'BAD_SIGNATURE_FILE',
    tooLargeHint: "a signature file is the ~6 KiB JSON 'ima-qs sign' writes",
    stdin: deps.stdin,
  });
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch (cause) {
    throw new InputError('BAD_SIGNATURE_FILE', `${sigPath} is not an ima-qs signature file: it is not text`, { cause });
  }
  const sf = parseSignatureFile(text, sigPath);
  const publicKey = await resolveVerifyKey(p, o.key, deps.cwd);
  const { name, statement } = await statementOf(deps, o.file, 'hashing');
  const v = verifySignatureFile(p, sf, publicKey, statement);
  return { ...v, file: name, signatureFile: sigPath, signer: sf.signer, keyFingerprint: fingerprint('ML-DSA-87', publicKey) };
}

/** The exit-1 error for a failed check, named after the check (SPEC §5.3). */
export function verifyFailure(v: FileVerification): VerificationError | undefined {
  if (!v.failed) return undefined;
  const code = {
    format: 'SIGNATURE_CONTEXT_MISMATCH',
    signer: 'SIGNER_MISMATCH',
    digest: 'DIGEST_MISMATCH',
    signature: 'BAD_SIGNATURE',
  }[v.failed.check];
  return new VerificationError(code, `verification failed: ${v.failed.check} check: ${v.failed.detail}`, {
    details: { failedCheck: v.failed.check },
  });
}
