export * from './names';
export * from './errors';
export * from './money';
export * from './saga';
export * from './order';
export * from './trip';
export * from './transfer';
