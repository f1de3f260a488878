/**
 * A raw HTTP/1.1 client on node:net for the hostile-HTTP tests: it writes exactly the bytes a
 * test gives (malformed request lines, lying lengths, stalls), reads the first final answer
 * (1xx skipped) and reports its status, or that the server closed the connection without one,
 * or that the client's own deadline passed first (a hang).
 */
import { connect } from 'node:net';

export interface RawResult {
  /** the status of the first final answer; undefined when none came */
  status?: number;
  /** the answer's JSON error code, when it has one */
  code?: string;
  /** the server closed (or reset) the connection */
  closed: boolean;
  /** the client's deadline passed with neither an answer nor a close */
  hung: boolean;
  /** bytes of the request the client managed to write */
  written: number;
}

export type Step = string | Buffer | { waitMs: number } | { repeat: Buffer; bytes: number };

/**
 * Sends `steps` on a fresh connection (strings and buffers are written in order, `waitMs`
 * pauses, `repeat` writes a buffer until `bytes` are out, waiting for the socket to drain) and
 * resolves once an answer is complete, the server closes, or `deadlineMs` passes (after the
 * steps the socket stays open, waiting for one of those).
 */
export function rawExchange(port: number, steps: Step[], opts: { deadlineMs: number; host?: string }): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect(port, opts.host ?? '127.0.0.1');
    let buf = Buffer.alloc(0);
    let written = 0;
    let settled = false;
    const done = (r: Omit<RawResult, 'written'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...r, written });
    };
    const timer = setTimeout(() => done({ closed: false, hung: true }), opts.deadlineMs);
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
        if (status >= 100 && status < 200) {
          buf = buf.subarray(end + 4);
          continue;
        }
        const len = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? '0');
        if (buf.length < end + 4 + len) return;
        const body = buf.subarray(end + 4, end + 4 + len).toString('utf8');
        let code: string | undefined;
        try {
          code = (JSON.parse(body) as { error?: { code?: string } }).error?.code;
        } catch {
          /* not JSON */
        }
        return done({ status: Number.isFinite(status) ? status : -1, code, closed: false, hung: false });
      }
    });
    socket.on('close', () => done({ closed: true, hung: false }));
    socket.on('error', () => undefined); // a reset shows as 'close'
    socket.once('connect', async () => {
      for (const s of steps) {
        if (settled || socket.destroyed) return;
        if (typeof s === 'string' || Buffer.isBuffer(s)) {
          const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
          socket.write(b);
          written += b.length;
        } else if ('waitMs' in s) {
          await new Promise((r) => setTimeout(r, s.waitMs));
        } else {
          while (written < s.bytes && !settled && !socket.destroyed) {
            const ok = socket.write(s.repeat);
            written += s.repeat.length;
            if (!ok) await new Promise<void>((r) => {
              const go = () => (socket.off('drain', go), socket.off('close', go), r());
              socket.on('drain', go);
              socket.on('close', go);
            });
          }
        }
      }
    });
  });
}

/** A request head with CRLFs; `headers` in order, no Host unless given. */
export function head(requestLine: string, headers: Record<string, string | number> = {}): string {
  return `${requestLine}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}
