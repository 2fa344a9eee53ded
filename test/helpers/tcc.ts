// Raw HTTP calls to the TCC participant server, signed (as the TCC activities sign them) or not, with any
// content type and Host header: what the tests (and the attack suite) send.
import { request } from 'node:http';
import { signTccRequest, tccKey } from '../../services/tcc-auth';

export interface RawAnswer {
  status: number;
  doc: { state?: string; error?: string; message?: string } & Record<string, unknown>;
}

export interface RawRequest {
  method?: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

/** Send exactly these bytes and headers (node:http, so Host can be set to anything). */
export function rawTcc(baseUrl: string, r: RawRequest): Promise<RawAnswer> {
  const url = new URL(r.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method: r.method ?? 'POST',
        headers: r.headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let doc: RawAnswer['doc'];
          try {
            doc = JSON.parse(text) as RawAnswer['doc'];
          } catch {
            doc = { message: text };
          }
          resolve({ status: res.statusCode ?? 0, doc });
        });
      },
    );
    req.on('error', reject);
    req.end(r.body ?? '');
  });
}

/** A request signed with the test process's TCC key (or `key`), ready to send or to replay. */
export function signedTcc(
  op: string,
  body: object,
  opts: { key?: Buffer; now?: number; contentType?: string } = {},
): RawRequest {
  const path = op.startsWith('/') ? op : `/v1/${op}`;
  const text = JSON.stringify(body);
  return {
    path,
    body: text,
    headers: {
      'content-type': opts.contentType ?? 'application/json',
      ...signTccRequest(opts.key ?? tccKey(), { method: 'POST', path, body: text }, opts.now),
    },
  };
}

/** POST a signed JSON call (what the tests use where they used a plain fetch before signing). */
export async function postTcc(baseUrl: string, op: string, body: object): Promise<RawAnswer> {
  return rawTcc(baseUrl, signedTcc(op, body));
}
