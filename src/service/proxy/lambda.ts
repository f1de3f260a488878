/**
 * The Lambda entry point of the proxy bundle (`ima-qs package lambda`): the handler built once
 * per container from the function's environment (SPEC §8.8), logs as JSON to stdout
 * (CloudWatch). The configuration is checked on the first invocation, before any AWS client is
 * made: a bad variable is logged once as CONFIG_INVALID naming it, and every request of that
 * container is answered 503 SERVICE_UNAVAILABLE (no detail to the caller) — never served with a
 * silently defaulted setting.
 *
 * The browser page (issue 16) is served at GET / when the zip has web/app.js and web/app.css beside
 * index.mjs (`ima-qs package lambda` puts them there): configured for a bearer token (the API's JWT
 * authorizer), the page's own origin as the endpoint, and no pin (the link's #pin=… or typed).
 */
import { fileURLToPath } from 'node:url';
import { toImaError } from '../../errors.js';
import { readPageFiles } from '../../web/page-files.js';
import { servedPage } from '../../web/site.js';
import { jsonLogger } from '../log.js';
import { EmfMetrics, proxyMetrics, type ProxyMetrics } from '../metrics.js';
import { proxyFromEnv } from '../wiring.js';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from './apigw.js';
import type { ProxyContext, ProxyHandler } from './handler.js';

let built: { handler: ProxyHandler; metrics: ProxyMetrics } | undefined;

const UNAVAILABLE: APIGatewayProxyStructuredResultV2 = {
  statusCode: 503,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify({ error: { code: 'SERVICE_UNAVAILABLE', message: 'the service is temporarily unavailable; try again' } }),
};

/** The page from web/ beside this bundle, or none (a zip without it, or the sources run from src/). */
function bundledPage(log: ReturnType<typeof jsonLogger>) {
  try {
    const files = readPageFiles(fileURLToPath(new URL('./web/', import.meta.url)));
    return files ? servedPage(files, { auth: 'jwt' }) : undefined;
  } catch (err) {
    log.log('error', 'browser page not loaded', { error: String((err as Error)?.message ?? err).slice(0, 200) });
    return undefined;
  }
}

function build(): { handler: ProxyHandler; metrics: ProxyMetrics } {
  const log = jsonLogger(process.stdout, { service: 'ima-qs-proxy' });
  // EMF on stdout (SPEC §8.8 metrics): CloudWatch Logs extracts them from the function's log
  const metrics = proxyMetrics(new EmfMetrics('proxy', 'stdout', log));
  try {
    return { handler: proxyFromEnv(process.env, log, { metrics, page: bundledPage(log) }), metrics };
  } catch (err) {
    const e = toImaError(err);
    log.log('error', 'proxy configuration refused', { code: e.code, error: e.message, ...(e.details?.variables ? { variables: e.details.variables } : {}) });
    return {
      handler: async () => {
        metrics.request('other', 503);
        return UNAVAILABLE;
      },
      metrics,
    };
  }
}

// `context`: the Lambda context; its remaining time caps a long poll (?wait=S, SPEC §8.2) so a
// held request answers before the function's timeout
export async function handler(event: APIGatewayProxyEventV2, context?: ProxyContext): Promise<APIGatewayProxyStructuredResultV2> {
  built ??= build();
  try {
    return await built.handler(event, context);
  } finally {
    built.metrics.flush(); // the function may be frozen right after it answers
  }
}
