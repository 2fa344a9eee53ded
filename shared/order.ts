import { formatCents } from './money';

export const ORDER_STEPS = ['create', 'reserve', 'charge', 'notify'] as const;
export type OrderStep = (typeof ORDER_STEPS)[number];

export interface OrderInput {
  orderId: string;
  customerId: string;
  sku: string;
  qty: number;
  amountCents: number;
  /** Fault injection for demos and tests: the named step fails with a non-retryable error. */
  failAt?: OrderStep;
}

export interface OrderView {
  orderId: string;
  customerId: string;
  sku: string;
  qty: number;
  amountCents: number;
  status: string;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/** Validation shared by the CLI (before anything starts) and the workflow (defence in depth). */
export function validateOrderInput(input: OrderInput): string[] {
  // Also called by the workflow on whatever a client sent: not necessarily an object of the right shape.
  if (typeof input !== 'object' || input === null) return ['the order input must be an object'];
  const errors: string[] = [];
  if (!ID_RE.test(input.orderId)) errors.push('order id must be 1-64 characters of letters, digits, . _ : -');
  if (!ID_RE.test(input.customerId))
    errors.push('--customer must be 1-64 characters of letters, digits, . _ : -');
  if (!ID_RE.test(input.sku)) errors.push('--sku must be 1-64 characters of letters, digits, . _ : -');
  if (!Number.isSafeInteger(input.qty) || input.qty <= 0 || input.qty > 1_000_000)
    errors.push('--qty must be a whole number from 1 to 1000000');
  if (!Number.isSafeInteger(input.amountCents) || input.amountCents <= 0)
    errors.push('--amount must be a positive amount with at most 2 decimals');
  if (input.failAt !== undefined && !(ORDER_STEPS as readonly string[]).includes(input.failAt))
    errors.push(`--fail-at must be one of ${ORDER_STEPS.join(', ')}`);
  return errors;
}

export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;

export function orderSummary(i: OrderInput): string {
  return `Order ${i.orderId}: ${i.qty} x ${i.sku} for ${i.customerId}, ${formatCents(i.amountCents)}`;
}
