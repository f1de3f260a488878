// A small, strict zip reader for the tests (APPNOTE.TXT §4.3): the end-of-central-directory
// record, every central-directory entry with its metadata, and the data inflated (node:zlib)
// and checked against the stored CRC-32 and size. Enough to read what reproducibleZip writes and
// to assert on the metadata that makes it reproducible; not a general unzip.
import { crc32, inflateRawSync } from 'node:zlib';

export interface ZipRecord {
  name: string;
  madeBy: number;
  method: number;
  flags: number;
  dosTime: number;
  dosDate: number;
  externalAttributes: number;
  centralExtra: Buffer;
  localExtra: Buffer;
  data: Buffer;
}

export function readZip(zip: Buffer): ZipRecord[] {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('no end of central directory record');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const out: ZipRecord[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${n}`);
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const csize = zip.readUInt32LE(at + 20);
    const usize = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`bad local header for ${name}`);
    const lName = zip.readUInt16LE(local + 26);
    const lExtra = zip.readUInt16LE(local + 28);
    const start = local + 30 + lName + lExtra;
    const raw = zip.subarray(start, start + csize);
    const data = method === 8 ? inflateRawSync(raw) : method === 0 ? Buffer.from(raw) : null;
    if (!data) throw new Error(`unsupported method ${method}`);
    if (data.length !== usize || crc32(data) >>> 0 !== crc) throw new Error(`size or CRC mismatch for ${name}`);
    out.push({
      name,
      madeBy: zip.readUInt16LE(at + 4),
      flags: zip.readUInt16LE(at + 8),
      method,
      dosTime: zip.readUInt16LE(at + 12),
      dosDate: zip.readUInt16LE(at + 14),
      externalAttributes: zip.readUInt32LE(at + 38),
      centralExtra: zip.subarray(at + 46 + nameLen, at + 46 + nameLen + extraLen),
      localExtra: zip.subarray(local + 30 + lName, local + 30 + lName + lExtra),
      data,
    });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}
