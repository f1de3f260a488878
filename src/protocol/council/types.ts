/**
 * Councils, personas and votes (SPEC §8.3). A council is 21 personas; each casts one vote per
 * request: approve / reject / abstain, a confidence in per-mille (an integer 0..1000, so canonical
 * JSON never meets a float) and a one-line rationale.
 */
import type { Route } from '../request.js';

export const VOTE_CHOICES = ['approve', 'reject', 'abstain'] as const;
export type VoteChoice = (typeof VOTE_CHOICES)[number];

export type CouncilId = 'code-analysis' | 'legal-documents';

/**
 * A persona's severity class (roster data, SPEC §8.3): a `blocking` persona's domain is one where a
 * single finding disqualifies (a security weakness, a missing mandatory part): under aggregation
 * rule v2 its reject with confidence ≥ VETO_CONFIDENCE is a veto. An `advisory` persona's finding
 * counts only as one vote among the others.
 */
export const SEVERITIES = ['blocking', 'advisory'] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface Persona {
  /** stable id, lowercase-dashed (e.g. "security-auditor") */
  readonly id: string;
  readonly name: string;
  /** what the persona looks at (documentation, and sent to a PersonaModel) */
  readonly role: string;
  /** roster data for aggregation rule v2 (decision v2); v1 ignores it */
  readonly severity: Severity;
}

/** What a persona (rule or model) says. */
export interface PersonaVote {
  persona: string;
  vote: VoteChoice;
  /** per-mille, 0..1000 */
  confidence: number;
  rationale: string;
}

export interface CouncilInput {
  route: Route;
  /** hex SHA3-256 of the sealed request */
  request_digest: string;
  payload: { name: string; content: string };
}

export interface Council {
  readonly id: CouncilId;
  readonly route: Route;
  readonly personas: readonly Persona[];
}

/**
 * The `PersonaModel` port: who produces the votes. The default is `RulesModel` (deterministic,
 * documented rules); `HttpPersonaModel` asks an operator's model service (JSON contract SPEC §8.6).
 * Must return exactly one vote per persona of the council.
 */
export interface PersonaModel {
  /** recorded in every decision ("rules/v2", "http"; "rules/v1" in decisions made before) */
  readonly name: string;
  consult(council: Council, input: CouncilInput): Promise<PersonaVote[]>;
}

export const MAX_RATIONALE_CHARS = 500;
