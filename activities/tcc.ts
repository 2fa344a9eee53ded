// TCC activities: calls to the TCC participant server over HTTP (services/tcc-server.ts). The server's barrier
// makes every call idempotent, so Temporal may deliver each of these more than once. Business answers (4xx)
// are final (non-retryable); network errors and 5xx are retried by Temporal.
import { ApplicationFailure, Context } from '@temporalio/activity';
import { signTccRequest, tccKey } from '../services/tcc-auth';
import { ERR, type BankId } from '../shared';

export interface TccActivityConfig {
  /** Base URL of the TCC server, e.g. http://127.0.0.1:8787 (a function: read when called). */
  baseUrl: string | (() => string);
  /** Per-request timeout (default 5s). */
  requestTimeoutMs?: number;
  /** The key requests are signed with (default: SETTLE_TCC_KEY or this install's key file). */
  key?: Buffer;
}

export interface TccCall {
  workflowId: string;
  branch: string;
  bank: BankId;
  /** Confirm/cancel: the leg (account, signed amount) the caller reserved; the server leaves any other alone. */
  account?: string;
  amountCents?: number;
}

export interface TccTryCall extends TccCall {
  account: string;
  /** Signed: negative holds money for a debit, positive reserves a credit. */
  amountCents: number;
  expiresAt?: string;
  /** Fault injection: the participant refuses this try. */
  refuse?: boolean;
}

export interface TccAnswer {
  state: 'applied' | 'duplicate' | 'noop';
  reservationId?: string;
}

export function createTccActivities(config: TccActivityConfig) {
  const base = (): string =>
    (typeof config.baseUrl === 'function' ? config.baseUrl() : config.baseUrl).replace(/\/$/, '');
  let key: Buffer | undefined = config.key;
  async function call(op: 'try' | 'confirm' | 'cancel', body: object): Promise<TccAnswer> {
    key ??= tccKey();
    let signal: AbortSignal = AbortSignal.timeout(config.requestTimeoutMs ?? 5000);
    try {
      signal = AbortSignal.any([signal, Context.current().cancellationSignal]);
    } catch {
      /* not inside an activity */
    }
    const path = `/v1/${op}`;
    const text0 = JSON.stringify(body);
    // Signed per attempt (fresh timestamp and nonce): a Temporal retry is a new request to the server.
    const res = await fetch(`${base()}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...signTccRequest(key, { method: 'POST', path, body: text0 }),
      },
      body: text0,
      signal,
    });
    const text = await res.text();
    let doc: { error?: string; message?: string } & Partial<TccAnswer>;
    try {
      doc = JSON.parse(text) as typeof doc;
    } catch {
      doc = { message: text };
    }
    if (res.ok) return { state: doc.state ?? 'applied', reservationId: doc.reservationId };
    const message = `${op} ${res.status}: ${doc.message ?? text}`;
    if (res.status >= 400 && res.status < 500)
      throw ApplicationFailure.nonRetryable(message, doc.error ?? ERR.invalidInput);
    throw new Error(message); // 5xx: the participant's trouble, retried
  }
  return {
    async tccTry(c: TccTryCall): Promise<TccAnswer> {
      return call('try', c);
    },
    async tccConfirm(c: TccCall): Promise<TccAnswer> {
      return call('confirm', c);
    },
    async tccCancel(c: TccCall): Promise<TccAnswer> {
      return call('cancel', c);
    },
  };
}

export type TccActivities = ReturnType<typeof createTccActivities>;
