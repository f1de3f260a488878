/**
 * `ima-qs encrypt | decrypt | sign | verify` (SPEC §4, §5). Thin: parse flags, call the operation
 * in file-ops.ts, render. When bytes go to stdout, people's text goes to stderr and --json is
 * refused (stdout carries exactly one thing).
 */
import type { Command } from 'commander';
import type { App } from '../cli.js';
import type { CliDeps } from '../context.js';
import { UsageError } from '../errors.js';
import { type CommandResult, facts, table } from '../output.js';
import { open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { decryptFile, encryptFile, signFile, verifyFailure, verifyFile } from './file-ops.js';

interface Common {
  json?: boolean;
  output?: string;
  force?: boolean;
}

const isStdout = (o?: string) => o === undefined || o === '-';

/** --json may be given before or after the subcommand (it is also a program option) */
function withJson<T extends Common>(o: T, cmd: Command): T {
  return { ...o, json: Boolean(cmd.optsWithGlobals().json) };
}

function checkStdout(deps: CliDeps, o: Common, binary: boolean): void {
  if (!isStdout(o.output)) return;
  if (o.json) {
    throw new UsageError('JSON_NEEDS_OUTPUT', '--json prints a JSON document on stdout, so the output needs -o FILE', {
      hint: 'add -o FILE, or drop --json',
    });
  }
  if (binary && (deps.stdoutBytes as { isTTY?: boolean } | undefined)?.isTTY) {
    throw new UsageError('BINARY_TO_TERMINAL', 'refusing to write binary ciphertext to a terminal', {
      hint: 'pass -o FILE, redirect stdout, or use --armor',
    });
  }
}

/** Text for people: on stdout normally, on stderr when stdout carries the bytes. */
function say(deps: CliDeps, o: Common, data: Record<string, unknown>, human: string): CommandResult {
  if (isStdout(o.output)) {
    deps.stderr.write(human.endsWith('\n') ? human : human + '\n');
    return { data };
  }
  return { data, human };
}

export function registerFileCrypto(program: Command, app: App): void {
  const { deps } = app;

  app
    .command(program, {
      name: 'encrypt',
      description: 'encrypt a file to a recipient key (ML-KEM-768 + ECDH P-384 composite KEM, AES-256-GCM, streaming)',
      examples: [
        'ima-qs encrypt --to quantum_keys -o report.pdf.ima report.pdf',
        'ima-qs encrypt --to server_keys --armor -o note.txt.asc note.txt',
        'tar c data | ima-qs encrypt --to recipient.pub > data.tar.ima',
      ],
      notes:
        '--to takes a key folder (uses ml_kem_768_public.key and ecdh_p384_public.key) or a composite\n' +
        'MLKEM768-P384 public key file. Without -o (or with -o -) the ciphertext goes to stdout.\n' +
        'Inputs of any size are encrypted in constant memory, in 64 KiB chunks (SPEC §4).',
    })
    .argument('[input]', 'file to encrypt, - for stdin (default)')
    .requiredOption('--to <dir|pubfile>', 'recipient: key folder or composite public key file')
    .option('-o, --output <file>', 'write the encrypted file here (- for stdout, the default)')
    .option('--armor', 'ASCII armor (PEM-like text) instead of binary')
    .option('--force', 'overwrite an existing output file')
    .action(
      app.action(async (input: string | undefined, o: Common & { to: string; armor?: boolean }, cmd: Command) => {
        checkStdout(deps, withJson(o, cmd), !o.armor);
        const r = await encryptFile(deps, { input, output: o.output, to: o.to, armor: o.armor, force: o.force });
        return say(deps, o, { ...r }, facts([
          ['encrypted', `${r.input} (${r.plaintextBytes} bytes)`],
          ['to', r.output + (r.armor ? ' (armored)' : '')],
          ['recipient', r.recipient],
          ['suite', r.suite],
        ]));
      }),
    );

  app
    .command(program, {
      name: 'decrypt',
      description: 'decrypt an ima-qs encrypted file (binary or armored) with the identity keys',
      examples: [
        'ima-qs decrypt --identity quantum_keys -o report.pdf report.pdf.ima',
        'ima-qs decrypt --identity quantum_keys < data.tar.ima | tar x',
      ],
      notes:
        'To a file: the plaintext is written to a temporary file next to it (0600) and renamed only after\n' +
        'the last chunk authenticated; on any failure nothing is left behind. To stdout: each 64 KiB\n' +
        'chunk is written only after it authenticated, so a truncated or modified file can leave an\n' +
        'authenticated but incomplete prefix on stdout: the exit code (1) says so (SPEC §4.6).\n' +
        'Exit 1 when decryption says no (wrong key, modified, truncated); 3 for a malformed input.',
    })
    .argument('[input]', 'encrypted file, - for stdin (default)')
    .requiredOption('--identity <dir|file>', 'key folder with ml_kem_768_private.key and ecdh_p384_private.key')
    .option('-o, --output <file>', 'write the plaintext here (- for stdout, the default)')
    .option('--force', 'overwrite an existing output file')
    .action(
      app.action(async (input: string | undefined, o: Common & { identity: string }, cmd: Command) => {
        checkStdout(deps, withJson(o, cmd), false);
        const r = await decryptFile(deps, { input, output: o.output, identity: o.identity, force: o.force });
        return say(deps, o, { ...r }, facts([
          ['decrypted', `${r.input}${r.armored ? ' (armored)' : ''}`],
          ['to', `${r.output} (${r.plaintextBytes} bytes)`],
          ['recipient', r.recipient],
        ]));
      }),
    );

  app
    .command(program, {
      name: 'sign',
      description: 'sign a file with ML-DSA-87 (detached signature file, context ima-qs/v1/file)',
      examples: [
        'ima-qs sign --key quantum_keys report.pdf                # writes report.pdf.sig',
        'ima-qs sign --key quantum_keys/ml_dsa_87_private.key -o report.sig report.pdf',
      ],
      notes: 'The signature covers the size and SHA3-512 digest of the file (SPEC §5); files of any size.',
    })
    .argument('<file>', 'file to sign (- for stdin)')
    .requiredOption('--key <dir|privfile>', 'key folder or ML-DSA-87 private key file')
    .option('-o, --output <sig>', 'signature file (default FILE.sig; - for stdout)')
    .option('--force', 'overwrite an existing signature file')
    .action(
      app.action(async (file: string, o: Common & { key: string }, cmd: Command) => {
        const output = o.output ?? (file === '-' ? '-' : `${file}.sig`);
        checkStdout(deps, { ...withJson(o, cmd), output }, false);
        const r = await signFile(deps, { file, key: o.key, output, force: o.force });
        return say(deps, { ...o, output }, { ...r }, facts([
          ['signed', `${r.file} (${r.size} bytes)`],
          ['signature', r.signature],
          ['signer', r.signer],
          ['sha3-512', r.sha3_512],
        ]));
      }),
    );

  app
    .command(program, {
      name: 'verify',
      description: 'verify a detached ML-DSA-87 file signature, or a service response.json (one row per check)',
      examples: [
        'ima-qs verify report.pdf --signature report.pdf.sig --key quantum_keys',
        'ima-qs verify response.json --pin 3f9a…(the root fingerprint of the service)',
        'ima-qs verify keys.json --pin 3f9a…   (a public-keys document, GET /api/keys: a rollback is refused)',
        'ima-qs verify response.json --pin 3f9a… --file app.py --require-anchor',
        'ima-qs verify vote.json --pin 3f9a…   (one vote, exported with ima-qs vote export)',
        'ima-qs verify response.json --key quantum_keys_root --json',
        'curl -s https://host/response.json | ima-qs verify - --pin 3f9a…',
      ],
      notes: `With --signature: a file signature (SPEC §5). Without it: FILE is a decision response
written by 'ima-qs request -o' (SPEC §8.10; version 1 responses of §8.5 still verify), or one vote
exported with 'ima-qs vote export', checked offline against --pin or --key (the ROOT: the response
carries the key-set statement that certifies its signer, valid at its issued_at): the signer key,
the decision signature, the votes' Merkle root, the tally, the aggregation rule, the payload digest
(with --file), the request digest and the audit anchor (entry, signed batch statement, inclusion
proof, PCR arithmetic). A simulated anchor is labelled SIMULATED; a v1 anchor "unauthenticated
(v1)". Or FILE is a public-keys document (GET /api/keys): verified against the root and recorded.
The highest generation seen per root ($XDG_STATE_HOME/ima-qs/generations.json) is the floor: an
older keys document, or a response certified by an older generation, is a rollback (exit 1).
Exit 0 when every check passes, 1 naming the failed checks, 3 for a malformed input.`,
    })
    .argument('<file>', 'the signed file, or a response.json (- for stdin)')
    .option('--signature <sig>', 'the detached signature file (- for stdin)')
    .option('--key <dir|pubfile>', 'key folder or ML-DSA-87 public key file of the signer (response.json: the root folder or its public key)')
    .option('--pin <fingerprint>', 'response.json / keys.json: the root fingerprint of the service')
    .option('--reset-generation', 'response.json / keys.json: forget the highest key-set generation seen for this root first')
    .option('--request-digest <hex>', 'response.json: the handle of the request it must answer')
    .option('--file <path>', 'response.json: the file that was sent; its payload digest must be the signed one')
    .option('--name <name>', 'response.json: the payload name that was sent with --file (default: its base name)')
    .option('--require-anchor', 'response.json: an unauthenticated (v1) audit anchor fails')
    .option('--require-tpm', 'response.json: a simulated audit anchor fails too (only a TPM anchor passes)')
    .action(app.action(async (file: string, o: VerifyFlags) => verifyCommand(app, file, o)));
}

/**
 * The file-signature path of `verify`. A later path (a service response.json) branches here on
 * its own flags; this one needs --signature and --key.
 */
interface VerifyFlags {
  signature?: string;
  key?: string;
  pin?: string;
  requestDigest?: string;
  file?: string;
  name?: string;
  requireAnchor?: boolean;
  requireTpm?: boolean;
  resetGeneration?: boolean;
}

export async function verifyCommand(app: App, file: string, o: VerifyFlags): Promise<CommandResult> {
  if (!o.signature) {
    // a response.json is a JSON object; any other file with --key alone lacks its --signature
    if (o.pin || (o.key && (await startsWithBrace(resolve(app.deps.cwd, file))))) {
      // loaded here: the response checks pull in the service's council rules, which encrypt/decrypt do not need
      const { verifyResponseAction } = await import('./verify-response.js');
      return verifyResponseAction(
        file,
        { pin: o.pin, key: o.key, requestDigest: o.requestDigest, payloadFile: o.file, payloadName: o.name, requireAnchor: o.requireAnchor, requireTpm: o.requireTpm, resetGeneration: o.resetGeneration },
        app,
      );
    }
    throw new UsageError('MISSING_OPTION', 'verify needs --signature SIG --key KEY (a file signature) or --pin FP | --key KEY (a response.json)', {
      hint: 'ima-qs verify report.pdf --signature report.pdf.sig --key quantum_keys',
    });
  }
  if (o.pin || o.requestDigest || o.file || o.name || o.requireAnchor || o.requireTpm || o.resetGeneration) {
    throw new UsageError('CONFLICTING_OPTIONS', '--pin, --request-digest, --file, --name, --require-anchor, --require-tpm and --reset-generation are for a response.json, not with --signature');
  }
  if (!o.key) {
    throw new UsageError('MISSING_OPTION', 'verify FILE --signature SIG needs --key DIR|PUBFILE', {
      hint: 'ima-qs verify report.pdf --signature report.pdf.sig --key quantum_keys',
    });
  }
  const r = await verifyFile(app.deps, { file, signature: o.signature, key: o.key });
  const { ok, ...rest } = r;
  const human = table(
    ['check', 'result', 'detail'],
    r.checks.map((c) => [c.check, c.ok ? 'ok' : 'FAILED', c.detail]),
  );
  return { data: { verified: ok, ...rest }, human, failure: verifyFailure(r) };
}

/**
 * True when the file's first non-blank byte is `{` (it may be a response document), or when FILE
 * is not a regular file (a FIFO, a device, stdin): such an input cannot be peeked at without
 * consuming it, so it goes to the response path, whose bounded reader refuses what it is not.
 */
async function startsWithBrace(path: string): Promise<boolean> {
  // stat, not open: opening a FIFO to peek would take its writer's only reader away
  const st = await stat(path).catch(() => undefined);
  if (!st || st.isDirectory()) return false; // the chosen path reports it
  if (!st.isFile()) return true;
  let fh;
  try {
    fh = await open(path, 'r');
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(64), 0, 64, 0);
    return buffer.subarray(0, bytesRead).toString('latin1').trimStart().startsWith('{');
  } catch {
    return false; // the chosen path reports the missing file
  } finally {
    await fh?.close();
  }
}
