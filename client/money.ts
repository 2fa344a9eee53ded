// Money on the command line and in messages: amounts are typed and shown in money (30, 9.99), never in cents.
import { formatCents, parseAmountToCents } from '../shared';
import { usageError } from './cli-kit';

/** --amount: a positive amount with at most 2 decimals, in cents; a usage error (nothing started) otherwise. */
export function amountFlag(v: string | boolean | string[] | boolean[] | undefined, flag = 'amount'): number {
  if (typeof v !== 'string') throw usageError(`missing --${flag} N (e.g. 25 or 25.50)`);
  const cents = parseAmountToCents(v);
  if (cents === undefined) {
    const why = /^-/.test(v)
      ? 'it must be positive'
      : /^\d+\.\d{3,}$/.test(v)
        ? 'at most 2 decimals'
        : 'not an amount';
    throw usageError(
      `--${flag} must be a positive amount with at most 2 decimals, like 30 or 9.99; got '${v}' (${why})`,
    );
  }
  return cents;
}

/**
 * Participants word some refusals in cents ("alice has 98050 cents, needs 100000"): say it in money, the way
 * the operator typed the amount ("alice has 980.50, needs 1000.00").
 */
export function moneyInText(text: string): string {
  return text
    .replace(
      /\b(\d+) cents, needs (\d+)\b/g,
      (_m, a: string, b: string) => `${formatCents(Number(a))}, needs ${formatCents(Number(b))}`,
    )
    .replace(/\b(\d+) cents\b/g, (_m, a: string) => formatCents(Number(a)));
}
