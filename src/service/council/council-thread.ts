/**
 * One council thread (budget-council.ts): runs `PersonaModel.consult` off the pipeline's thread,
 * so that a consultation that runs over its budget can be stopped (the thread is terminated) while
 * everything else keeps running. Messages: in {id, council, input}; out {id, votes} or {id, error}.
 * The model: the built-in rules, or (embedders, tests) a module exporting `createModel()`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toImaError } from '../../errors.js';
import { CODE_COUNCIL, LEGAL_COUNCIL, RulesModel } from './councils.js';
import type { CouncilInput, PersonaModel } from '../../protocol/council/types.js';
import type { CouncilModelSpec } from './budget-council.js';

const spec = workerData as CouncilModelSpec;
const COUNCILS = { [CODE_COUNCIL.id]: CODE_COUNCIL, [LEGAL_COUNCIL.id]: LEGAL_COUNCIL };

async function load(): Promise<PersonaModel> {
  if (spec.kind === 'rules') return new RulesModel();
  const mod = (await import(spec.url)) as { createModel?: () => PersonaModel | Promise<PersonaModel> };
  if (typeof mod.createModel !== 'function') throw new Error(`${spec.url} does not export createModel()`);
  return mod.createModel();
}

const model = await load();
parentPort!.on('message', async (m: { id: number; council: string; input: CouncilInput }) => {
  try {
    const council = COUNCILS[m.council as keyof typeof COUNCILS];
    if (!council) throw new Error(`unknown council ${m.council}`);
    parentPort!.postMessage({ id: m.id, votes: await model.consult(council, m.input) });
  } catch (err) {
    const e = toImaError(err);
    parentPort!.postMessage({ id: m.id, error: { errorClass: e.errorClass, code: e.code, message: e.message } });
  }
});
parentPort!.postMessage({ ready: true, name: model.name });
