// A process the bench or compare driver spawns: it stops cleanly on SIGTERM or Ctrl-C, and when the driver
// closes its stdin (the driver went away, even by crashing), so it never outlives the run that started it.
export function stopWithDriver(shutdown: () => Promise<unknown>): void {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void shutdown().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop).resume();
}
