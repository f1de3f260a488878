/**
 * The two councils and the default `PersonaModel`, the deterministic rules (SPEC §8.3).
 */
import { InputError } from '../../errors.js';
import type { Route } from '../../protocol/request.js';
import { textFeatures } from './features.js';
import { CODE_RULES, type Rule } from './rules-code.js';
import { LEGAL_RULES } from './rules-legal.js';
import type { Council, CouncilInput, PersonaModel, PersonaVote } from './types.js';

export const COUNCIL_SIZE = 21;

function persona(r: Rule) {
  return Object.freeze({ id: r.id, name: r.name, role: r.role });
}

export const CODE_COUNCIL: Council = Object.freeze({
  id: 'code-analysis',
  route: 'analyze',
  personas: Object.freeze(CODE_RULES.map(persona)),
});

export const LEGAL_COUNCIL: Council = Object.freeze({
  id: 'legal-documents',
  route: 'patents',
  personas: Object.freeze(LEGAL_RULES.map(persona)),
});

export function councilFor(route: Route): Council {
  return route === 'analyze' ? CODE_COUNCIL : LEGAL_COUNCIL;
}

const RULES: Record<string, readonly Rule[]> = { 'code-analysis': CODE_RULES, 'legal-documents': LEGAL_RULES };

/** The default model: every persona is a pure rule over the content (same input → same votes). */
export class RulesModel implements PersonaModel {
  readonly name = 'rules/v1';

  async consult(council: Council, input: CouncilInput): Promise<PersonaVote[]> {
    const rules = RULES[council.id];
    if (!rules) throw new InputError('UNKNOWN_COUNCIL', `no rules for council ${council.id}`);
    const f = textFeatures(input.payload.content);
    return rules.map((r) => ({ persona: r.id, ...r.judge(input.payload.content, f) }));
  }
}

for (const c of [CODE_COUNCIL, LEGAL_COUNCIL]) {
  // SPEC §8.3: 21 personas with distinct ids; checked at load so a broken table cannot ship
  if (c.personas.length !== COUNCIL_SIZE || new Set(c.personas.map((p) => p.id)).size !== COUNCIL_SIZE) {
    throw new Error(`council ${c.id} must have ${COUNCIL_SIZE} distinct personas`);
  }
}
