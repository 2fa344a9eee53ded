// Barrel for the worker's workflowsPath: every workflow type the orchestration worker runs.
export { orderSaga } from './order-saga';
export { tripSaga } from './trip-saga';
export { choreographedOrder, outboxRelay } from './choreography';
export { benchBaseline, benchEngineSaga, benchOrderSaga, benchParkedSaga, benchTwoPhase } from './bench';
export { inDoubtSweeper, twoPhaseCommit } from './two-phase';
export { transfer2pc, transferK } from './transfer-2pc';
export { transfer3pc } from './three-phase';
export { transferTcc } from './tcc';
