// Terraform for tests, when this machine has it: the binary on PATH and the AWS provider in a
// local plugin directory (no registry access: `init -plugin-dir`). Not every machine has them;
// tests skip that layer with the reason this module reports.
import { execFile } from 'node:child_process';
import { access, cp, mkdtemp, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export const INFRA_DIR = new URL('../../infra/', import.meta.url).pathname;

/** Where provider plugin directories are looked for (the folder holding registry.terraform.io/...). */
const PLUGIN_DIR_CANDIDATES = [
  process.env.IMA_QS_TF_PLUGIN_DIR,
  '/opt/tf-plugins',
  '/usr/share/terraform/plugins',
  '/usr/local/share/terraform/plugins',
  join(process.env.HOME ?? '/root', '.terraform.d/plugins'),
].filter((x): x is string => typeof x === 'string' && x.length > 0);

async function exists(path: string, mode = constants.F_OK): Promise<boolean> {
  try {
    await access(path, mode);
    return true;
  } catch {
    return false;
  }
}

export async function findTerraform(): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && (await exists(join(dir, 'terraform'), constants.X_OK))) return join(dir, 'terraform');
  }
  return undefined;
}

/** The plugin folder that holds registry.terraform.io/hashicorp/aws/<version>/<os_arch>. */
export async function findAwsPluginDir(): Promise<string | undefined> {
  for (const dir of PLUGIN_DIR_CANDIDATES) {
    const aws = join(dir, 'registry.terraform.io/hashicorp/aws');
    if ((await exists(aws)) && (await readdir(aws)).length > 0) return dir;
  }
  return undefined;
}

/** Why the Terraform layer cannot run here, or undefined when it can. */
export async function terraformUnavailableReason(): Promise<string | undefined> {
  const bin = await findTerraform();
  if (!bin) return 'terraform is not on PATH';
  const plugins = await findAwsPluginDir();
  if (!plugins) return `no local AWS provider plugin directory (looked in ${PLUGIN_DIR_CANDIDATES.join(', ')}; set IMA_QS_TF_PLUGIN_DIR)`;
  return undefined;
}

export interface TfResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs terraform offline (no CLI config, no checkpoint call), never through a shell. */
export function terraform(bin: string, args: string[], cwd: string, timeoutMs = 120_000): Promise<TfResult> {
  const env = { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1', TF_INPUT: '0' };
  return new Promise((resolve, reject) => {
    execFile(bin, args, { cwd, env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') reject(err);
      else resolve({ code: err ? Number(err.code) : 0, stdout, stderr });
    });
  });
}

/** A scratch copy of infra/ (without any .terraform/ left by a manual run). */
export async function copyInfra(prefix = 'ima-qs-infra-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await cp(INFRA_DIR, dir, { recursive: true, filter: (src) => !/[/\\]\.terraform([/\\]|$)|\.tfstate/.test(src) });
  return dir;
}
