/**
 * The Lambda entry point of the proxy bundle (`ima-qs package lambda`): the handler built once
 * per container from the function's environment (SPEC §8.8), logs as JSON to stdout
 * (CloudWatch). Cold-start work is lazy so a configuration error is a 500 with a logged code.
 */
import { jsonLogger } from '../log.js';
import { proxyFromEnv } from '../wiring.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from './apigw.js';
import type { ProxyContext, ProxyHandler } from './handler.js';

let built: ProxyHandler | undefined;

// `context`: the Lambda context; its remaining time caps a long poll (?wait=S, SPEC §8.2) so a
// held request answers before the function's timeout
export async function handler(event: APIGatewayProxyEventV2, context?: ProxyContext): Promise<APIGatewayProxyStructuredResultV2> {
  built ??= proxyFromEnv(process.env, jsonLogger(process.stdout, { service: 'ima-qs-proxy' }));
  return built(event, context);
}
