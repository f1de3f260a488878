/**
 * `ima-qs vote export RESPONSE --persona ID (--pin FP | --key PUBFILE) [-o vote.json]` (SPEC
 * §8.10.7): one persona's vote of a verified version 2 response, with its RFC 9162 inclusion proof
 * under the signed votes_root, so it can be shown and checked (`ima-qs verify vote.json`) without
 * the other 20 votes. The response is verified first: nothing is exported from a response that
 * does not verify.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { App } from '../cli.js';
import { defaultProvider } from '../crypto/providers.js';
import { InputError, UsageError, VerificationError } from '../errors.js';
import { writeFileAtomic } from '../io/files.js';
import { facts, type CommandResult } from '../output.js';
import type { DecisionResponseV2 } from '../protocol/decision-v2.js';
import { verifyResponse } from '../protocol/response-verify.js';
import { exportVote } from '../protocol/vote-proof.js';
import { requireSubcommand } from './index.js';
import { readResponseDocument, trustFromFlags } from './verify-response.js';

interface ExportFlags {
  persona?: string;
  pin?: string;
  key?: string;
  output?: string;
  force?: boolean;
}

export async function exportVoteAction(file: string, o: ExportFlags, app: Pick<App, 'deps'>): Promise<CommandResult> {
  if (!o.persona) throw new UsageError('MISSING_OPTION', 'vote export needs --persona ID', { hint: 'a persona id of the council, e.g. security-auditor' });
  const trust = await trustFromFlags(o, app.deps.cwd);
  const p = defaultProvider();
  const { doc } = await readResponseDocument(file, app.deps);
  const v = verifyResponse(p, doc, trust);
  if (!v.ok) {
    const failed = v.checks.filter((c) => !c.ok).map((c) => c.name);
    throw new VerificationError('RESPONSE_INVALID', `${file} does not verify (${failed.join(', ')}): no vote is exported from it`);
  }
  if (v.version !== 2) throw new InputError('RESPONSE_VERSION_1', `${file} is a version 1 response: its votes are signed one by one and carry no inclusion proofs`);
  const r = doc as DecisionResponseV2;
  const vote = exportVote(p, r, o.persona);
  if (!vote) {
    throw new InputError('UNKNOWN_PERSONA', `${o.persona.slice(0, 64)} is not a persona of this decision's council`, {
      hint: `one of ${r.votes.map((x) => x.persona).join(', ')}`,
    });
  }
  const text = JSON.stringify(vote, null, 2) + '\n';
  const out = o.output ? resolve(app.deps.cwd, o.output) : undefined;
  if (out) await writeFileAtomic(out, text, { force: o.force === true });
  return {
    data: { vote, ...(out ? { output: out } : {}) },
    human: out
      ? facts([
          ['persona', vote.vote.persona],
          ['vote', `${vote.vote.vote} (${vote.vote.confidence}‰)`],
          ['proof', `leaf ${vote.proof.index} of ${vote.proof.size}, ${vote.proof.path.length} hashes`],
          ['written', out],
        ])
      : text.trimEnd(),
  };
}

export function registerVote(program: Command, app: App): void {
  const vote = program.command('vote').description('one vote of a decision, shown without the others (Merkle inclusion proof)');
  requireSubcommand(vote);
  app
    .command(vote, {
      name: 'export',
      description: "export one persona's vote of a verified response with its inclusion proof",
      examples: [
        'ima-qs vote export response.json --persona security-auditor --pin 3f9a… -o vote.json',
        'ima-qs verify vote.json --pin 3f9a…',
        'ima-qs vote export response.json --persona claims-examiner --key quantum_keys --json',
      ],
      notes: `The response is verified against --pin or --key first. The vote document carries the signed
decision, the one vote and its RFC 9162 proof (SPEC §8.10.7); the other votes stay out of it.`,
    })
    .argument('<response>', 'a response.json written by ima-qs request -o')
    .option('--persona <id>', 'the persona whose vote to export')
    .option('--pin <fingerprint>', 'the root fingerprint of the service')
    .option('--key <dir|pubfile>', 'or the root folder / its public key file')
    .option('-o, --output <file>', 'write the vote document here (default: stdout)')
    .option('--force', 'overwrite the -o file if it exists')
    .action(app.action(async (file: string, o: ExportFlags) => exportVoteAction(file, o, app)));
}
