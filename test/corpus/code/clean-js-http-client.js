'use strict';
// JSON client for the catalogue API with timeouts and bounded retries.
const DEFAULT_TIMEOUT_MS = 8000;

class ApiError extends Error {
  constructor(status, body) {
    super(`API answered ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function requestJson(url, { method = 'GET', body, timeoutMs = DEFAULT_TIMEOUT_MS, retries = 2 } = {}) {
  if (!url.startsWith('https://')) throw new Error('only https URLs are allowed');
  for (let attempt = 0; ; attempt++) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const res = await fetch(url, {
        method,
        headers: body ? { 'content-type': 'application/json' } : {},
        body: body ? JSON.stringify(body) : undefined,
        signal: controller.signal,
      });
      const text = await res.text();
      if (res.status >= 500 && attempt < retries) continue;
      if (!res.ok) throw new ApiError(res.status, text);
      return text ? JSON.parse(text) : null;
    } catch (err) {
      if (err instanceof ApiError || attempt >= retries) throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

module.exports = { requestJson, ApiError };
