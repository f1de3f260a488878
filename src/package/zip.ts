/**
 * A byte-for-byte reproducible zip (APPNOTE.TXT, PKWARE): the same files give the same bytes on
 * any machine, in any time zone, whatever the files' on-disk metadata.
 *
 * - entries sorted by name (byte order), so the order of the caller does not matter;
 * - one fixed timestamp, 1980-01-01 00:00:00, the first instant a DOS date can express, written as
 *   DOS date/time only (forceDosTimestamp: no "UT" extra field). yazl converts a Date to DOS fields
 *   in *local* time, so the Date is built from local fields: the DOS fields are then the same in
 *   every time zone;
 * - fixed permissions: a regular file, 0644 (external attributes = mode << 16, "made by" Unix);
 * - deflate at level 9 (zlib is deterministic for one zlib version: Node's bundled one).
 */
import { createHash } from 'node:crypto';
import yazl from 'yazl';
import { InputError } from '../errors.js';

export interface ZipEntry {
  /** path inside the archive: relative, '/'-separated */
  name: string;
  data: Uint8Array;
}

/** S_IFREG | 0644 */
export const ZIP_FILE_MODE = 0o100644;

/** 1980-01-01T00:00:00 in local time: DOS date 0x0021, time 0x0000 in every time zone. */
export function fixedZipTime(): Date {
  return new Date(1980, 0, 1, 0, 0, 0, 0);
}

function checkName(name: string): void {
  if (!name || name.startsWith('/') || name.includes('\\') || name.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new InputError('BAD_ZIP_ENTRY', `"${name.slice(0, 80)}" is not a relative path for a zip entry`);
  }
}

export async function reproducibleZip(entries: readonly ZipEntry[]): Promise<Buffer> {
  const sorted = [...entries].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
  for (let i = 0; i < sorted.length; i++) {
    checkName(sorted[i].name);
    if (i > 0 && sorted[i].name === sorted[i - 1].name) throw new InputError('BAD_ZIP_ENTRY', `duplicate zip entry ${sorted[i].name}`);
  }
  const zip = new yazl.ZipFile();
  const mtime = fixedZipTime();
  for (const e of sorted) {
    zip.addBuffer(Buffer.from(e.data), e.name, { mtime, mode: ZIP_FILE_MODE, compress: true, compressionLevel: 9, forceDosTimestamp: true });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What Terraform's filebase64sha256() and Lambda's CodeSha256 report: base64 of SHA-256. */
export function sha256Base64(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('base64');
}
