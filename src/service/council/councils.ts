/**
 * The default `PersonaModel`, the deterministic rules (SPEC §8.3), over the councils of
 * ./rosters.ts (persona ids, order, severity classes: static data that verifiers check "one vote
 * per persona in order" against and that aggregation rule v2 reads).
 */
import { InputError } from '../../errors.js';
import { readText, type Text } from './features.js';
import { judgePatent, parsePatent, type Patent } from './patent.js';
import { MatcherSet } from './matcher.js';
import { judgeGeneric, lineMatchers, type Ctx, type Rule, type Verdict } from './rule.js';
import { CODE_RULES } from './rules-code.js';
import { LEGAL_RULES } from './rules-legal.js';
import { COUNCILS } from '../../protocol/council/rosters.js';
import type { Council, CouncilInput, PersonaModel, PersonaVote } from '../../protocol/council/types.js';

// the rosters live in ./rosters.ts (no rule code, no regex engine); re-exported for existing callers
export { CODE_COUNCIL, COUNCILS, COUNCIL_SIZE, LEGAL_COUNCIL, councilFor } from '../../protocol/council/rosters.js';

export const RULES: Readonly<Record<string, readonly Rule[]>> = Object.freeze({ 'code-analysis': CODE_RULES, 'legal-documents': LEGAL_RULES });

/** Per council: every line pattern of its rules in one RE2 set (one pass per line for all). */
export const LINE_SETS: Readonly<Record<string, MatcherSet>> = Object.freeze(
  Object.fromEntries(Object.entries(RULES).map(([id, rules]) => [id, MatcherSet.of(rules.flatMap((r) => lineMatchers(r.definition)))])),
);

/** What the rules of a council read from one content: text, line hits, patent structure on demand. */
export function prepare(council: Council, content: string): Ctx & { patent(): Patent } {
  const set = LINE_SETS[council.id];
  if (!set) throw new InputError('UNKNOWN_COUNCIL', `no rules for council ${council.id}`);
  const t: Text = readText(content);
  const hits = set.scan(t.lines);
  let p: Patent | undefined;
  return { t, hits, patent: () => (p ??= parsePatent(t)) };
}

/** One rule's vote (the patent structure is parsed on first need, once per text). */
export function judge(r: Rule, c: Ctx & { patent(): Patent }): Verdict {
  const d = r.definition;
  switch (d.kind) {
    case 'detect':
    case 'limit':
    case 'comments':
    case 'evidence':
    case 'count':
      return judgeGeneric(d, c, r.role);
    default:
      return judgePatent(d, c, c.patent());
  }
}

/** The votes of a council's rules on `content`, in roster order (pure and synchronous). */
export function ruleVotes(council: Council, content: string): PersonaVote[] {
  const c = prepare(council, content);
  return RULES[council.id].map((r) => ({ persona: r.id, ...judge(r, c) }));
}

/** The default model: every persona is a pure rule over the content (same input → same votes). */
export class RulesModel implements PersonaModel {
  readonly name = 'rules/v2';

  async consult(council: Council, input: CouncilInput): Promise<PersonaVote[]> {
    return ruleVotes(council, input.payload.content);
  }
}

for (const c of COUNCILS) {
  // the rule tables follow the rosters exactly (ids, order, classes): checked at load
  const rules = RULES[c.id];
  if (!rules || rules.length !== c.personas.length || rules.some((r, i) => r.id !== c.personas[i].id || r.severity !== c.personas[i].severity)) {
    throw new Error(`the rules of ${c.id} do not follow its roster`);
  }
}
