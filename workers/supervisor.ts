// The host supervises the servers it started (Temporal dev server, embedded PostgreSQL): when one dies while the
// stack is up, it says so on the console and starts it again with backoff (1s, 2s, 4s... capped), so the
// transactions the crash interrupted resume by themselves. After too many failed restarts in a row it gives up
// and the host stops with a clear error and a non-zero exit. The workers and pools reconnect on their own.
import type { PostgresHandle } from '../services/postgres';
import type { Stack } from '../services/stack';
import type { DevServerHandle } from '../services/temporal-server';

export interface SupervisedServer {
  /** How the console names it: "Temporal dev server", "PostgreSQL". */
  name: string;
  pid: number;
  /** Settles when the process exits, with how ("signal SIGKILL"). */
  exited: Promise<string>;
  /** Start it again; the new instance replaces this one. */
  restart(): Promise<SupervisedServer>;
  stop(): Promise<void>;
}

export interface SupervisorOptions {
  log: (msg: string) => void;
  /** Called once when a server cannot be restarted: the host shuts down and exits non-zero. */
  onGiveUp: (err: Error) => void;
  /** First backoff (default 1s); doubles per failed attempt up to maxBackoffMs (default 30s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Failed restarts in a row before giving up (default 5). */
  maxAttempts?: number;
}

export interface Supervisor {
  /** Each server's current instance (after restarts), by name. */
  current(name: string): SupervisedServer | undefined;
  restarts(name: string): number;
  /** Stop watching (a deliberate shutdown is not a crash), then stop every server in reverse start order. */
  stopAll(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function superviseServers(servers: SupervisedServer[], opts: SupervisorOptions): Supervisor {
  const current = new Map(servers.map((s) => [s.name, s]));
  const restarts = new Map(servers.map((s) => [s.name, 0]));
  const order = servers.map((s) => s.name);
  let stopping = false;
  const initial = opts.initialBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 30_000;
  const maxAttempts = opts.maxAttempts ?? 5;

  const watch = (server: SupervisedServer): void => {
    void server.exited.then(async (how) => {
      if (stopping || current.get(server.name) !== server) return;
      for (let attempt = 1; ; attempt++) {
        const wait = Math.min(initial * 2 ** (attempt - 1), maxBackoff);
        opts.log(
          `${server.name} (pid ${server.pid}) ${attempt === 1 ? `died (${how})` : 'still down'}: restarting in ${(wait / 1000).toFixed(1)}s (attempt ${attempt}/${maxAttempts})`,
        );
        await sleep(wait);
        if (stopping) return;
        try {
          const next = await server.restart();
          if (stopping) return void (await next.stop());
          current.set(server.name, next);
          restarts.set(server.name, (restarts.get(server.name) ?? 0) + 1);
          opts.log(`${server.name} restarted (pid ${next.pid})`);
          watch(next);
          return;
        } catch (err) {
          if (attempt >= maxAttempts) {
            opts.onGiveUp(
              new Error(
                `${server.name} died (${how}) and could not be restarted after ${attempt} attempts: ${(err as Error).message}`,
              ),
            );
            return;
          }
        }
      }
    });
  };
  servers.forEach(watch);

  return {
    current: (name) => current.get(name),
    restarts: (name) => restarts.get(name) ?? 0,
    async stopAll() {
      stopping = true;
      for (const name of [...order].reverse()) await current.get(name)?.stop();
    },
  };
}

/** The servers a local stack started (none for an external Temporal or DATABASE_URL), as supervised servers. */
export function stackServers(stack: Stack): SupervisedServer[] {
  const servers: SupervisedServer[] = [];
  const pg = stack.postgres;
  if (pg.embedded && pg.pid !== undefined && pg.exited && pg.restart) {
    const asServer = (h: PostgresHandle): SupervisedServer => ({
      name: 'PostgreSQL',
      pid: h.pid ?? 0,
      exited: h.exited ?? new Promise<string>(() => undefined),
      restart: async () => {
        if (!h.restart) throw new Error('this PostgreSQL cannot be restarted');
        return asServer(await h.restart());
      },
      stop: () => h.stop(),
    });
    servers.push(asServer(pg));
  }
  const dev = stack.temporal.server;
  if (dev) {
    const asServer = (h: DevServerHandle): SupervisedServer => ({
      name: 'Temporal dev server',
      pid: h.pid,
      exited: h.exited,
      restart: async () => asServer(await h.restart()),
      stop: () => h.stop(),
    });
    servers.push(asServer(dev));
  }
  return servers;
}
