/**
 * The built page's files read from a folder (dist/web/ of an installation, or web/ beside the
 * Lambda's index.mjs): app.js and app.css, or undefined when the folder does not have them. No
 * esbuild here: the Lambda bundle includes this module.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PAGE_FILES } from './html.js';

export interface PageFiles {
  script: Uint8Array;
  style: Uint8Array;
}

/** Largest file accepted (the bundle is ~170 KB; anything far larger is not ours). */
const MAX_PAGE_FILE_BYTES = 4 * 1024 * 1024;

export function readPageFiles(dir: string): PageFiles | undefined {
  const script = join(dir, PAGE_FILES.script);
  const style = join(dir, PAGE_FILES.style);
  if (!existsSync(script) || !existsSync(style)) return undefined;
  const read = (p: string) => {
    const b = readFileSync(p);
    if (b.length > MAX_PAGE_FILE_BYTES) throw new Error(`${p} is ${b.length} bytes; the page's files are far smaller`);
    return new Uint8Array(b);
  };
  return { script: read(script), style: read(style) };
}
