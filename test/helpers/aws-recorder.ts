/**
 * A recording pass-through in front of an AWS emulator: every request the SDK sends is forwarded
 * byte for byte (the Host header too, so SigV4 signatures still verify) and recorded as what the
 * code asked for — the operation (X-Amz-Target), the JSON input, the access key that signed it —
 * together with the emulator's answer status. Tests point AWS_ENDPOINT_URL at `endpoint` to learn
 * exactly which calls a component makes, with which parameters, under which credentials.
 * JSON protocols (DynamoDB, SQS, Secrets Manager, KMS) by X-Amz-Target; S3's REST calls (SigV4
 * scope ".../s3/aws4_request") by method, path and query (PutObject, GetObject, ListObjectsV2,
 * ListObjectVersions, DeleteObject), with input {Bucket, Key, ...query}. Anything else is
 * recorded with its operation as "?".
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';

export interface RecordedCall {
  /** e.g. "DynamoDB_20120810.PutItem" → service "DynamoDB_20120810", operation "PutItem" */
  service: string;
  operation: string;
  input: Record<string, unknown>;
  accessKeyId: string;
  status: number;
  /** the error code of a refused call: <Code> of an XML error (moto answers IAM refusals so), or __type of a JSON one */
  errorCode?: string;
}

export interface Recorder {
  endpoint: string;
  calls: RecordedCall[];
  /** resolves once no call is on its way (e.g. an aborted long poll that moto still answers) */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

const MAX_BODY = 8 * 1024 * 1024;

export async function startRecorder(target: string): Promise<Recorder> {
  const upstream = new URL(target);
  const calls: RecordedCall[] = [];
  let pending = 0;
  const waiters: (() => void)[] = [];
  const settle = () => {
    if (--pending === 0) for (const w of waiters.splice(0)) w();
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    pending++;
    res.on('close', settle);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const amzTarget = String(req.headers['x-amz-target'] ?? '?');
      const [service, operation] = amzTarget.includes('.') ? amzTarget.split('.', 2) : ['?', amzTarget];
      const credential = /Credential=([^/,\s]+)\/[^/]+\/[^/]+\/([^/]+)\//.exec(String(req.headers.authorization ?? ''));
      let input: Record<string, unknown> = {};
      try {
        input = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
      } catch {
        /* not JSON: recorded with an empty input */
      }
      const call: RecordedCall = { service, operation, input, accessKeyId: credential?.[1] ?? '', status: 0 };
      if (amzTarget === '?' && credential?.[2] === 's3') Object.assign(call, s3Call(req.method ?? 'GET', req.url ?? '/'));
      const fwd = request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, timeout: 60_000 },
        (up) => {
          const parts: Buffer[] = [];
          up.on('data', (c: Buffer) => parts.push(c));
          up.on('end', () => {
            const answer = Buffer.concat(parts);
            call.status = up.statusCode ?? 0;
            if (call.status >= 400) {
              const text = answer.subarray(0, 8192).toString('utf8');
              call.errorCode = /<Code>([A-Za-z.]+)<\/Code>/.exec(text)?.[1] ?? /"__type"\s*:\s*"(?:[^"#]*#)?([A-Za-z.]+)"/.exec(text)?.[1];
            }
            calls.push(call);
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(answer);
          });
        },
      );
      fwd.on('error', (err) => {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`recorder: upstream failed: ${err.message}`);
      });
      fwd.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    idle: () => (pending === 0 ? Promise.resolve() : new Promise<void>((r) => waiters.push(r))),
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // the SDK keeps connections alive
      }),
  };
}

/** An S3 REST request (path-style) as the operation the SDK sent. */
function s3Call(method: string, url: string): Pick<RecordedCall, 'service' | 'operation' | 'input'> {
  const u = new URL(url, 'http://recorder');
  const [bucket, ...rest] = u.pathname.slice(1).split('/');
  const key = decodeURIComponent(rest.join('/'));
  // the SDK names some operations in the query (`?x-id=PutObject`)
  const xid = u.searchParams.get('x-id');
  u.searchParams.delete('x-id');
  const query = Object.fromEntries(u.searchParams.entries());
  const input: Record<string, unknown> = { Bucket: bucket, ...(key ? { Key: key } : {}), ...query };
  let operation = '?';
  if (xid) operation = xid;
  else if (key && method === 'PUT' && !u.search) operation = 'PutObject';
  else if (key && method === 'GET') operation = 'GetObject';
  else if (key && method === 'DELETE') operation = 'DeleteObject';
  else if (!key && method === 'GET' && u.searchParams.has('versions')) operation = 'ListObjectVersions';
  else if (!key && method === 'GET' && u.searchParams.get('list-type') === '2') operation = 'ListObjectsV2';
  return { service: 's3', operation, input };
}
