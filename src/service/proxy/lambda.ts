/**
 * The Lambda entry point of the proxy bundle (`ima-qs package lambda`): the handler built once
 * per container from the function's environment (SPEC §8.8), logs as JSON to stdout
 * (CloudWatch). The configuration is checked on the first invocation, before any AWS client is
 * made: a bad variable is logged once as CONFIG_INVALID naming it, and every request of that
 * container is answered 503 SERVICE_UNAVAILABLE (no detail to the caller) — never served with a
 * silently defaulted setting.
 */
import { toImaError } from '../../errors.js';
import { jsonLogger } from '../log.js';
import { proxyFromEnv } from '../wiring.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from './apigw.js';
import type { ProxyContext, ProxyHandler } from './handler.js';

let built: ProxyHandler | undefined;

const UNAVAILABLE: APIGatewayProxyStructuredResultV2 = {
  statusCode: 503,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'the service is temporarily unavailable; try again' } }),
};

function build(): ProxyHandler {
  const log = jsonLogger(process.stdout, { service: 'ima-qs-proxy' });
  try {
    return proxyFromEnv(process.env, log);
  } catch (err) {
    const e = toImaError(err);
    log.log('error', 'proxy configuration refused', { code: e.code, error: e.message, ...(e.details?.variables ? { variables: e.details.variables } : {}) });
    return async () => UNAVAILABLE;
  }
}

// `context`: the Lambda context; its remaining time caps a long poll (?wait=S, SPEC §8.2) so a
// held request answers before the function's timeout
export async function handler(event: APIGatewayProxyEventV2, context?: ProxyContext): Promise<APIGatewayProxyStructuredResultV2> {
  built ??= build();
  return built(event, context);
}
