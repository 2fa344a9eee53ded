// The matrix: every fault at every point of every pattern, each an addressable cell
// (`--pattern 2pc-2 --fault late-commit --at prepare:bank-b`), and the quick sample run inside `npm test`.
import { PATTERNS, SPECS, type PatternName } from './patterns';

export const FAULTS = [
  'kill-before',
  'kill-after',
  'late-commit',
  'duplicate',
  'compensation-fails',
  'cancel',
  'reset',
  'same-id',
  'pg-restart',
  'temporal-restart',
  'power-loss',
] as const;
export type FaultName = (typeof FAULTS)[number];

export interface Cell {
  pattern: PatternName;
  fault: FaultName;
  at: string;
}

/** Faults injected at each point (forward and undo) of a pattern. */
const POINT_FAULTS: FaultName[] = [
  'kill-before',
  'kill-after',
  'late-commit',
  'duplicate',
  'cancel',
  'reset',
  'pg-restart',
  'temporal-restart',
  'power-loss',
];
const SAGAS: PatternName[] = ['order', 'trip'];
const TRANSFERS: PatternName[] = ['2pc-2', '2pc-4', 'tcc', '3pc'];

export function cellsOf(pattern: PatternName): Cell[] {
  const spec = SPECS[pattern];
  const points = [...spec.forward, ...spec.undo];
  const cells: Cell[] = [];
  for (const fault of POINT_FAULTS) for (const at of points) cells.push({ pattern, fault, at });
  if (SAGAS.includes(pattern)) {
    // A compensation that keeps failing parks the saga; the operator resolves it by retry, skip or abort.
    for (const at of spec.undo)
      for (const how of ['retry', 'skip'] as const)
        cells.push({ pattern, fault: 'compensation-fails', at: `${at}/${how}` });
    cells.push({ pattern, fault: 'compensation-fails', at: `${spec.undo[0]}/abort` });
    // Cancelled while a compensation keeps failing and waits for an operator: the cancel must not end the way
    // back; the operator's retry still compensates. Reset while parked: the new run must compensate on its own.
    for (const fault of ['cancel', 'reset'] as const)
      for (const at of spec.undo) cells.push({ pattern, fault, at: `${at}/parked` });
  }
  cells.push({ pattern, fault: 'same-id', at: 'start' });
  // Transfers: the first run terminated while a branch is prepared, the second (another amount) must not adopt it.
  if (TRANSFERS.includes(pattern))
    cells.push({ pattern, fault: 'same-id', at: `${spec.forward[1]}/terminated` });
  return cells;
}

export const ALL_CELLS: Cell[] = PATTERNS.flatMap(cellsOf);

/**
 * The quick sample (`--quick`, test/chaos): every pattern and every fault kind at least once, at the point
 * where the fault means most (an undo point, a commit after the decision).
 */
export const QUICK_CELLS: Cell[] = [
  { pattern: 'order', fault: 'kill-after', at: 'charge' },
  { pattern: 'order', fault: 'late-commit', at: 'reserve' },
  { pattern: 'order', fault: 'compensation-fails', at: 'undo:charge/retry' },
  { pattern: 'order', fault: 'cancel', at: 'charge' },
  { pattern: 'order', fault: 'same-id', at: 'start' },
  { pattern: 'trip', fault: 'duplicate', at: 'pay' },
  { pattern: 'trip', fault: 'compensation-fails', at: 'undo:hotel/skip' },
  { pattern: 'trip', fault: 'cancel', at: 'undo:car/parked' },
  { pattern: '2pc-2', fault: 'kill-before', at: 'commit:bank-b' },
  { pattern: '2pc-2', fault: 'pg-restart', at: 'commit:bank-a' },
  { pattern: '2pc-2', fault: 'late-commit', at: 'prepare:bank-b' },
  { pattern: '2pc-4', fault: 'reset', at: 'commit:p1-bank-a' },
  { pattern: 'tcc', fault: 'duplicate', at: 'cancel:debit' },
  { pattern: 'tcc', fault: 'temporal-restart', at: 'confirm:credit' },
  { pattern: '3pc', fault: 'kill-after', at: 'pre-commit:bank-a' },
  { pattern: 'choreography', fault: 'power-loss', at: 'deliver:StockReserved' },
];

export const cellName = (c: Cell): string => `${c.pattern} ${c.fault} ${c.at}`;

/** The command that reruns one cell. */
export const rerunCommand = (c: Cell): string =>
  `npm run chaos -- --pattern ${c.pattern} --fault ${c.fault} --at ${c.at}`;

/** Each filter is one name or a comma-separated list. */
export function selectCells(filter: {
  pattern?: string;
  fault?: string;
  at?: string;
  quick?: boolean;
}): Cell[] {
  const base = filter.quick ? QUICK_CELLS : ALL_CELLS;
  const oneOf = (list: string | undefined, v: string): boolean => !list || list.split(',').includes(v);
  return base.filter(
    (c) => oneOf(filter.pattern, c.pattern) && oneOf(filter.fault, c.fault) && oneOf(filter.at, c.at),
  );
}
