// The TCC participant over HTTP (node:http, JSON): try / confirm / cancel of reservations on the two banks'
// accounts. Each reservation lives in its bank's database next to the balance it holds, and every call goes
// through that database's barrier in the same local transaction, so:
//   - a retried call does nothing twice (the first answer is returned again);
//   - a cancel for a try that never arrived is a recorded no-op (null compensation);
//   - a try that arrives after its cancel is refused (hanging), so a late retry cannot strand money in a hold;
//   - a confirm after a cancel, or a cancel after a confirm, is refused (409).
// Every request is also logged in the tcc database (tcc_requests), duplicates included. Knows nothing of Temporal.
//
// Who may call (anyone on the host, and any web page, can reach a loopback port): every /v1 request must be
// signed with the install's key (services/tcc-auth.ts: HMAC over method, path, body, timestamp and a nonce;
// unsigned, expired, replayed or wrongly signed: 401), carry Content-Type application/json (anything else: 415,
// so a web page cannot send it as a "simple" cross-site POST) and a Host naming this server (127.0.0.1 or
// localhost with its port: 403 otherwise, which stops DNS rebinding). Amounts are whole cents, not 0, at most
// maxAmountCents in size (SETTLE_TCC_MAX_AMOUNT_CENTS, default 1,000,000,000.00). Refused requests change nothing.
//
//   POST /v1/try      {workflowId, branch, bank, account, amountCents, expiresAt?, refuse?}
//   POST /v1/confirm  {workflowId, branch, bank}
//   POST /v1/cancel   {workflowId, branch, bank}
//   GET  /v1/reservations?workflowId=...
//   GET  /health
// Answers: 200 {state: applied|duplicate|noop, reservationId}; 400/404/409 {error, message} are final;
// 5xx are the participant's trouble and may be retried.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from 'pg';
import { BANKS, ERR, TRANSFER_ERR, type BankId } from '../shared';
import { tccKey, TccVerifier } from './tcc-auth';
import { barrierAction, barrierCompensation, BarrierRejectedError } from './barrier';
import { cancelReservation, confirmReservation, listReservations, tryReservation, tccTryKey } from './banks';
import { isDbTimeout, type Pools } from './db';
import { isOwnReservation, legOperationOf, otherOperation, type TccLegOperation } from './tcc-binding';
import { BusinessRejection } from './shop';

export interface TccServerOptions {
  pools: Pick<Pools, 'bank_a' | 'bank_b' | 'tcc'>;
  /** 0 picks a free port. */
  port: number;
  host?: string;
  log?: (m: string) => void;
  /** The signing key (default: SETTLE_TCC_KEY or this install's key file, services/tcc-auth.ts). */
  key?: Buffer;
  /** Extra Host header values accepted besides 127.0.0.1:<port> and localhost:<port> (a cluster's service name). */
  allowedHosts?: string[];
  /** Largest |amountCents| of one try (default SETTLE_TCC_MAX_AMOUNT_CENTS or 100,000,000,000). */
  maxAmountCents?: number;
  /** Honour the `refuse` fault switch (default: SETTLE_FAULTS=1, set by tests and the demo only). */
  faults?: boolean;
}

/** Default business maximum of one TCC leg: 1,000,000,000.00 in cents. */
export const DEFAULT_MAX_AMOUNT_CENTS = 100_000_000_000;

function maxAmountFromEnv(): number {
  const raw = process.env.SETTLE_TCC_MAX_AMOUNT_CENTS;
  if (!raw) return DEFAULT_MAX_AMOUNT_CENTS;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new Error(`SETTLE_TCC_MAX_AMOUNT_CENTS must be a positive whole number, got '${raw}'`);
  return n;
}

export interface TccServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,199}$/;
const BRANCH_RE = /^[a-z][a-z0-9-]{0,31}$/;
const ACCOUNT_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;

interface CallBody {
  workflowId: string;
  branch: string;
  bank: BankId;
}
interface TryBody extends CallBody {
  account: string;
  amountCents: number;
  expiresAt?: string;
  refuse?: boolean;
}

function parseCall(doc: Record<string, unknown>): CallBody {
  const { workflowId, branch, bank } = doc;
  if (typeof workflowId !== 'string' || !ID_RE.test(workflowId))
    throw new HttpError(400, ERR.invalidInput, 'workflowId is missing or invalid');
  if (typeof branch !== 'string' || !BRANCH_RE.test(branch))
    throw new HttpError(400, ERR.invalidInput, 'branch is missing or invalid');
  if (typeof bank !== 'string' || !(BANKS as readonly string[]).includes(bank))
    throw new HttpError(400, ERR.invalidInput, `bank must be one of ${BANKS.join(', ')}`);
  return { workflowId, branch, bank: bank as BankId };
}

function parseTry(doc: Record<string, unknown>, maxAmountCents: number, faults: boolean): TryBody {
  const call = parseCall(doc);
  const { account, amountCents, expiresAt, refuse } = doc;
  if (typeof account !== 'string' || !ACCOUNT_RE.test(account))
    throw new HttpError(400, ERR.invalidInput, 'account is missing or invalid');
  if (typeof amountCents !== 'number' || !Number.isSafeInteger(amountCents) || amountCents === 0)
    throw new HttpError(
      400,
      ERR.invalidInput,
      'amountCents must be a non-zero whole number (negative: debit)',
    );
  if (Math.abs(amountCents) > maxAmountCents)
    throw new HttpError(
      400,
      ERR.invalidInput,
      `amountCents is beyond the maximum of ${maxAmountCents} per leg`,
    );
  if (expiresAt !== undefined && (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt))))
    throw new HttpError(400, ERR.invalidInput, 'expiresAt must be an ISO date');
  return {
    ...call,
    account,
    amountCents,
    expiresAt,
    // The fault switch exists only where a test or demo turned it on.
    refuse: faults && refuse === true,
  };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 64 * 1024) throw new HttpError(413, ERR.invalidInput, 'request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(raw: Buffer): Record<string, unknown> {
  try {
    const doc: unknown = JSON.parse(raw.toString('utf8') || '{}');
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not an object');
    return doc as Record<string, unknown>;
  } catch {
    throw new HttpError(400, ERR.invalidInput, 'the body must be a JSON object');
  }
}

function businessStatus(type: string): number {
  if (type === ERR.unknownAccount || type === TRANSFER_ERR.unknownReservation) return 404;
  if (type === ERR.invalidInput) return 400;
  return 409;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

export const reservationId = (workflowId: string, branch: string): string => `${workflowId}/${branch}`;

type HandlerOptions = Pick<TccServerOptions, 'pools' | 'log' | 'key' | 'maxAmountCents' | 'faults'> & {
  /** Host header values this server answers to. */
  hosts: string[];
};

export function createTccHandler(opts: HandlerOptions) {
  const verifier = new TccVerifier(opts.key ?? tccKey());
  const maxAmountCents = opts.maxAmountCents ?? maxAmountFromEnv();
  const faults = opts.faults ?? process.env.SETTLE_FAULTS === '1';
  const hosts = new Set(opts.hosts.map((h) => h.toLowerCase()));
  /** Host, content type and signature, before anything is read from the database or written to it. */
  function admit(req: IncomingMessage, path: string, raw: Buffer): void {
    if (!hosts.has((req.headers.host ?? '').toLowerCase()))
      throw new HttpError(403, 'ForbiddenHost', `Host '${req.headers.host ?? ''}' is not this server`);
    if (req.method === 'POST' && !/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? ''))
      throw new HttpError(415, 'UnsupportedMediaType', 'Content-Type must be application/json');
    const verdict = verifier.verify({ method: req.method ?? '', path, body: raw, headers: req.headers });
    if (!verdict.ok) throw new HttpError(401, 'Unauthorized', verdict.reason);
  }
  const bankPool = (bank: BankId): Pool => (bank === 'bank-a' ? opts.pools.bank_a : opts.pools.bank_b);
  // Barrier keys: the workflow id is the global transaction id; try and cancel share the branch key (so a cancel
  // finds its try, or records that it came first); confirm has its own.
  const tryKey = (c: CallBody) => tccTryKey(c.workflowId, c.branch);
  const confirmKey = (c: CallBody) => ({ gid: c.workflowId, branch: `tcc-${c.branch}-confirm` });

  async function tryOp(b: TryBody): Promise<object> {
    if (b.refuse)
      throw new HttpError(409, TRANSFER_ERR.votedNo, `${b.bank} refuses this try (fault injection)`);
    const id = reservationId(b.workflowId, b.branch);
    const out = await barrierAction(bankPool(b.bank), tryKey(b), (tx) =>
      tryReservation(tx, {
        reservationId: id,
        workflowId: b.workflowId,
        branch: b.branch,
        account: b.account,
        amountCents: b.amountCents,
        expiresAt: b.expiresAt,
      }),
    );
    // A recorded try under this key is this call's only if it holds this very leg (same id reused: refused).
    if (out.state === 'duplicate' && !(await isOwnReservation(bankPool(b.bank), id, b)))
      throw otherOperation(id);
    return { state: out.state, reservationId: id };
  }
  async function confirmOp(c: CallBody, leg?: TccLegOperation): Promise<object> {
    const id = reservationId(c.workflowId, c.branch);
    if (!(await isOwnReservation(bankPool(c.bank), id, leg))) throw otherOperation(id);
    const out = await barrierAction(bankPool(c.bank), confirmKey(c), async (tx) => {
      await confirmReservation(tx, id);
      return { reservationId: id };
    });
    return { state: out.state, reservationId: id };
  }
  async function cancelOp(c: CallBody, leg?: TccLegOperation): Promise<object> {
    const id = reservationId(c.workflowId, c.branch);
    // Another operation's hold is not this cancel's: nothing of the caller's was reserved here.
    if (!(await isOwnReservation(bankPool(c.bank), id, leg))) return { state: 'noop', reservationId: id };
    const out = await barrierCompensation(bankPool(c.bank), tryKey(c), (tx) => cancelReservation(tx, id));
    return { state: out.state, reservationId: id };
  }

  async function logRequest(
    op: string,
    doc: Record<string, unknown>,
    status: number,
    outcome: string,
  ): Promise<void> {
    await opts.pools.tcc
      .query(
        `INSERT INTO tcc_requests (op, workflow_id, branch, bank, status, outcome) VALUES ($1, $2, $3, $4, $5, $6)`,
        [op, text(doc.workflowId), text(doc.branch), text(doc.bank), status, outcome],
      )
      .catch((err: Error) => opts.log?.(`tcc: could not log a request: ${err.message}`));
  }

  return async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://tcc');
    const send = (status: number, doc: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(doc));
    };
    let op: 'try' | 'confirm' | 'cancel' | undefined;
    let doc: Record<string, unknown> = {};
    try {
      if (req.method === 'GET' && url.pathname === '/health') return send(200, { ok: true });
      const raw = await readBody(req);
      admit(req, req.url ?? '/', raw);
      if (req.method === 'GET' && url.pathname === '/v1/reservations') {
        const wf = url.searchParams.get('workflowId') ?? '';
        if (!ID_RE.test(wf))
          throw new HttpError(400, ERR.invalidInput, 'workflowId query parameter is required');
        const [a, b] = await Promise.all([
          listReservations(opts.pools.bank_a, wf),
          listReservations(opts.pools.bank_b, wf),
        ]);
        return send(200, [
          ...a.map((r) => ({ bank: 'bank-a', ...r })),
          ...b.map((r) => ({ bank: 'bank-b', ...r })),
        ]);
      }
      const m = /^\/v1\/(try|confirm|cancel)$/.exec(url.pathname);
      if (!m) throw new HttpError(404, 'NotFound', `no route ${req.method} ${url.pathname}`);
      if (req.method !== 'POST') throw new HttpError(405, ERR.invalidInput, `${url.pathname} takes POST`);
      op = m[1] as 'try' | 'confirm' | 'cancel';
      doc = parseJson(raw);
      const answer =
        op === 'try'
          ? await tryOp(parseTry(doc, maxAmountCents, faults))
          : op === 'confirm'
            ? await confirmOp(parseCall(doc), legOperationOf(doc))
            : await cancelOp(parseCall(doc), legOperationOf(doc));
      await logRequest(op, doc, 200, (answer as { state: string }).state);
      return send(200, answer);
    } catch (err) {
      let status = 500;
      let type = 'Internal';
      const message = (err as Error).message;
      if (err instanceof HttpError) [status, type] = [err.status, err.type];
      else if (err instanceof BusinessRejection) [status, type] = [businessStatus(err.type), err.type];
      else if (err instanceof BarrierRejectedError) [status, type] = [409, ERR.barrierRejected];
      // A lock wait (an account held by an in-doubt 2PC branch) or a slow statement: busy, retry later.
      else if (isDbTimeout(err)) [status, type] = [503, 'ParticipantBusy'];
      else opts.log?.(`tcc: ${req.method} ${url.pathname} failed: ${(err as Error).stack ?? message}`);
      if (op) await logRequest(op, doc, status, type);
      return send(status, { error: type, message });
    }
  };
}

export async function startTccServer(opts: TccServerOptions): Promise<TccServer> {
  const key = opts.key ?? tccKey();
  const ready: { handler?: ReturnType<typeof createTccHandler> } = {};
  const server: Server = createServer((req, res) => {
    if (!ready.handler) return void res.writeHead(503).end();
    ready.handler(req, res).catch((err: Error) => {
      opts.log?.(`tcc: ${err.message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // Keep-alive sockets would hold close() up; requests are short.
  server.keepAliveTimeout = 1000;
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  // The Host values are known once the port is (port 0 picks one).
  ready.handler = createTccHandler({
    ...opts,
    key,
    hosts: [`127.0.0.1:${port}`, `localhost:${port}`, `${host}:${port}`, ...(opts.allowedHosts ?? [])],
  });
  return {
    url: `http://${host}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
