/**
 * CORS for the loopback front of `local up` (issue 16 §3; SPEC §9.1): what API Gateway's
 * cors_configuration does for the deployed proxy (infra/api.tf, `api_cors_allowed_origins`), for
 * the origins named with `local up --cors ORIGIN`. A request is judged by its Origin header:
 *
 *   no Origin                      passes (curl, the CLI, a same-origin GET)
 *   the server's own origin        passes: Origin is http://<Host> and Host is a loopback literal
 *                                  with this port (a DNS-rebinding page names its own host there)
 *   an allowed origin              a preflight (OPTIONS + Access-Control-Request-Method) for GET or
 *                                  POST with at most the authorization and content-type headers is
 *                                  answered 204 with the grant; any other request passes, and its
 *                                  answer carries Access-Control-Allow-Origin and Vary: Origin
 *   anything else                  403 CORS_ORIGIN_REFUSED (a preflight asking more: 403
 *                                  CORS_PREFLIGHT_REFUSED), before the handler sees it
 *
 * No credentials (cookies) are ever allowed: the deployed proxy's token travels in Authorization.
 */
import { UsageError } from '../errors.js';

/** The rule of the Terraform variable api_cors_allowed_origins (infra/variables.tf), the same here. */
export const CORS_ORIGIN_RULE = /^(https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?|http:\/\/(localhost|127\.0\.0\.1)(:[0-9]{1,5})?)$/;
export const CORS_METHODS = ['GET', 'POST'] as const;
export const CORS_HEADERS = ['authorization', 'content-type'] as const;
export const CORS_MAX_AGE_SECONDS = 3600;
export const MAX_CORS_ORIGINS = 32;

/** Checks `--cors` values: https://host[:port], or http://localhost|127.0.0.1[:port]; no path, no wildcard. */
export function checkCorsOrigins(values: readonly string[]): string[] {
  if (values.length > MAX_CORS_ORIGINS) throw new UsageError('BAD_CORS_ORIGIN', `at most ${MAX_CORS_ORIGINS} --cors origins`);
  return values.map((v) => {
    if (!CORS_ORIGIN_RULE.test(v)) {
      throw new UsageError('BAD_CORS_ORIGIN', `--cors ${v.slice(0, 100)} is not an origin: https://host[:port], or http://localhost[:port] / http://127.0.0.1[:port] (no path, no wildcard)`, {
        hint: 'e.g. --cors http://127.0.0.1:8080',
      });
    }
    return v.toLowerCase();
  });
}

export type CorsDecision =
  | { kind: 'pass'; headers: Record<string, string> }
  | { kind: 'preflight'; headers: Record<string, string> }
  | { kind: 'refuse'; code: 'CORS_ORIGIN_REFUSED' | 'CORS_PREFLIGHT_REFUSED'; message: string };

const LOOPBACK_HOST = /^(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?$/i;

export interface CorsRequest {
  method: string;
  origin?: string;
  host?: string;
  requestMethod?: string;
  requestHeaders?: string;
}

export function corsDecision(r: CorsRequest, allowed: readonly string[], port: number): CorsDecision {
  if (r.origin === undefined) return { kind: 'pass', headers: {} };
  const origin = r.origin.toLowerCase();
  const host = (r.host ?? '').toLowerCase();
  const hostPort = /:([0-9]{1,5})$/.exec(host)?.[1];
  if (LOOPBACK_HOST.test(host) && Number(hostPort ?? 80) === port && origin === `http://${host}`) return { kind: 'pass', headers: {} };
  if (!allowed.includes(origin)) {
    return { kind: 'refuse', code: 'CORS_ORIGIN_REFUSED', message: 'this origin may not call the service (local up --cors names the ones that may)' };
  }
  const grant = { 'access-control-allow-origin': origin, vary: 'Origin' };
  if (r.method === 'OPTIONS' && r.requestMethod !== undefined) {
    const headers = (r.requestHeaders ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
    const methodOk = (CORS_METHODS as readonly string[]).includes(r.requestMethod.toUpperCase());
    const headersOk = headers.every((h) => (CORS_HEADERS as readonly string[]).includes(h));
    if (!methodOk || !headersOk) {
      return { kind: 'refuse', code: 'CORS_PREFLIGHT_REFUSED', message: `a cross-origin request may be GET or POST with the headers ${CORS_HEADERS.join(', ')} only` };
    }
    return {
      kind: 'preflight',
      headers: {
        ...grant,
        'access-control-allow-methods': CORS_METHODS.join(', '),
        'access-control-allow-headers': CORS_HEADERS.join(', '),
        'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
      },
    };
  }
  return { kind: 'pass', headers: grant };
}
