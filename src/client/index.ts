/**
 * The request client as a library (issue 6 §2): `BlackBoxClient` and the offline verifier, for
 * Node and for browsers. Nothing imported from here may pull in a `node:` module
 * (test/unit/client/browser-bundle.test.ts bundles this file with esbuild --platform=browser).
 */
export { BlackBoxClient, MAX_RESPONSE_BYTES, responseSignerKey } from './black-box-client.js';
export type { BlackBoxClientOptions, ClientPhase, ClientProgress, ClientResult, FetchLike } from './black-box-client.js';
export { verifyResponse } from '../protocol/response-verify.js';
export type { ResponseCheck, ResponseVerification, TrustAnchor } from '../protocol/response-verify.js';
export type { DecisionResponse } from '../protocol/decision.js';
export type { RequestPayload, Route } from '../protocol/request.js';
export { nobleProvider } from '../crypto/provider-noble.js';
