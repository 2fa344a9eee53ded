// Error types thrown by activities as ApplicationFailure.type. Business rejections are non-retryable:
// retrying "insufficient funds" cannot succeed, and the saga must compensate instead.
export const ERR = {
  outOfStock: 'OutOfStock',
  insufficientFunds: 'InsufficientFunds',
  unknownCustomer: 'UnknownCustomer',
  unknownSku: 'UnknownSku',
  unknownAccount: 'UnknownAccount',
  /** A flight, hotel or car class the trip service does not know. */
  unknownResource: 'UnknownResource',
  /** An action arrived after its compensation already ran (the barrier refuses it). */
  barrierRejected: 'BarrierRejected',
  /** Deliberate failure injected for demos and tests (--fail-at). */
  injected: 'InjectedFailure',
  invalidInput: 'InvalidInput',
} as const;
export type ErrorType = (typeof ERR)[keyof typeof ERR];

export const NON_RETRYABLE: string[] = [
  ERR.outOfStock,
  ERR.insufficientFunds,
  ERR.unknownCustomer,
  ERR.unknownSku,
  ERR.unknownAccount,
  ERR.unknownResource,
  ERR.barrierRejected,
  ERR.injected,
  ERR.invalidInput,
];
