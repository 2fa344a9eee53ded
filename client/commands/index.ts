// Every CLI command, in the order `settle --help` lists them. Add a pattern's commands here.
import type { Command } from '../cli-kit';
import { orderPlace, orderStatus } from './order';
import { list } from './list';
import { status } from './status';
import { watch } from './watch';
import { cancel } from './cancel';
import { stuck } from './stuck';
import { needsOperator, resolve } from './operator';
import { tripAccounts, tripBook } from './trip';
import { check } from './check';
import { outboxDeadLetters, outboxRedrive } from './outbox';
import { eventsTail } from './events';
import { projectionsRebuild, projectionsRun, projectionsStatus } from './projections';
import { barrierPrune } from './barrier';
import { setup } from './setup';
import { walletShow, walletSnapshot, walletVerify } from './wallet';
import { accounts, prepared, transfer, transferStatusCommand } from './transfer';
import { compare } from './compare';

export const COMMANDS: Command[] = [
  orderPlace,
  orderStatus,
  list,
  status,
  watch,
  cancel,
  stuck,
  needsOperator,
  resolve,
  tripBook,
  tripAccounts,
  walletShow,
  walletSnapshot,
  walletVerify,
  transfer,
  transferStatusCommand,
  accounts,
  prepared,
  check,
  compare,
  outboxDeadLetters,
  outboxRedrive,
  eventsTail,
  projectionsStatus,
  projectionsRebuild,
  projectionsRun,
  barrierPrune,
  setup,
];
