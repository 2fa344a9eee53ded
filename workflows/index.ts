// Barrel for the worker's workflowsPath: every workflow type the orchestration worker runs.
export { orderSaga } from './order-saga';
export { choreographedOrder, outboxRelay } from './choreography';
export { benchBaseline, benchEngineSaga, benchOrderSaga, benchParkedSaga } from './bench';
export { inDoubtSweeper } from './two-phase';
export { transfer2pc, transferK } from './transfer-2pc';
