// Money is integer cents everywhere below the CLI; floats never touch a balance.

/** Parse "30", "30.5", "30.50" into cents; undefined when it is not a positive amount with at most 2 decimals. */
export function parseAmountToCents(text: string): number | undefined {
  if (!/^\d{1,12}(\.\d{1,2})?$/.test(text)) return undefined;
  const [whole, frac = ''] = text.split('.');
  const cents = Number(whole) * 100 + Number(frac.padEnd(2, '0'));
  return cents > 0 && Number.isSafeInteger(cents) ? cents : undefined;
}

export function formatCents(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** A bigint column read by pg (a string) as cents; refuses a value a JavaScript number cannot hold exactly. */
export function centsFromDb(value: string | number): number {
  const cents = Number(value);
  if (!Number.isSafeInteger(cents))
    throw new RangeError(`amount ${String(value)} cents is beyond exact range`);
  return cents;
}
