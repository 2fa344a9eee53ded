// The CLI's small framework: commands declare their options, the kit parses strictly (unknown flags and
// missing values are errors before anything starts), prints help with examples, and maps errors to exit codes.
// @temporalio/client is loaded only by the commands that talk to Temporal (it is most of the start-up time).
import type { Client, Connection } from '@temporalio/client';
import { connect } from 'node:net';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionConfig = NonNullable<ParseArgsConfig['options']>[string];
import { AesGcmCodec, EncryptionConfigError, encryptionDataConverter } from '../services/codec';
import { cliTarget, describeTarget, type CliTarget } from './config';
import { temporalClient } from './temporal';
import { clientTracingInterceptors, flushClientTracing } from './tracing';

export const EXIT = {
  ok: 0,
  /** The command failed for a reason not covered below. */
  error: 1,
  /** Bad input: nothing was started or written. */
  usage: 2,
  /** Temporal (or the database) could not be reached. */
  unreachable: 3,
  /** The workflow id (or account, ...) does not exist. */
  notFound: 4,
  /** The transaction is parked and needs an operator, or did not finish in time. */
  attention: 5,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message);
  }
}
export const usageError = (msg: string): CliError => new CliError(msg, EXIT.usage);

/** One option: what parseArgs needs, plus what --help says about it. */
export type OptionSpec = ParseArgsOptionConfig & {
  /** One line: what the option does. */
  description?: string;
  /** The allowed values, when it is a choice (checked by the command, listed by --help). */
  choices?: readonly string[];
  /** The default as the user would type it, when it is not `default` (e.g. "5m", "a new id"). */
  defaultText?: string;
  /** The value's placeholder in help (default: VALUE). */
  placeholder?: string;
};
export type Options = Record<string, OptionSpec>;
export type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  json: boolean;
  out: (text: string) => void;
  /** Print a JSON document (the --json contract). */
  emit: (doc: unknown) => void;
  client: () => Promise<Client>;
  /** The Temporal the command talks to, and where that was configured. */
  target: () => CliTarget;
  /** Write a progress line on stderr (stdout stays the command's output, one JSON document with --json). */
  note: (text: string) => void;
}

export interface Command {
  /** e.g. 'order place' */
  name: string;
  summary: string;
  usage: string;
  examples: string[];
  options: Options;
  /** Names of positional arguments (for help and arity checks). */
  positionals?: { name: string; required: boolean }[];
  run(ctx: CommandContext): Promise<number | void>;
}

/** Options every command takes. */
export const JSON_OPTION: Options = {
  json: { type: 'boolean', default: false, description: 'print one JSON document on stdout instead of text' },
  address: {
    type: 'string',
    placeholder: 'HOST:PORT',
    description: 'Temporal frontend to talk to (overrides the stack file and the environment)',
    defaultText: 'the stack file, SETTLE_TEMPORAL_PORT, TEMPORAL_ADDRESS, then localhost:7233',
  },
  namespace: {
    type: 'string',
    placeholder: 'NAME',
    description: 'Temporal namespace',
    defaultText: "the stack file's, TEMPORAL_NAMESPACE, then default",
  },
  help: { type: 'boolean', short: 'h', default: false, description: 'show this help' },
};

/** One help line per option: flag and value, what it does, its allowed values and its default. */
function optionLines(options: Options): string[] {
  const rows = Object.entries(options).map(([k, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ` ${o.placeholder ?? 'VALUE'}` : ''}`;
    const parts = [o.description ?? ''];
    if (o.choices) parts.push(`one of: ${o.choices.join(', ')}`);
    const dflt = o.defaultText ?? (typeof o.default === 'string' ? o.default : undefined);
    if (dflt !== undefined) parts.push(`default: ${dflt}`);
    return [flag, parts.filter(Boolean).join('; ')] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length));
  return rows.map(([f, d]) => `  ${f.padEnd(width)}  ${d}`.trimEnd());
}

export function helpText(c: Command): string {
  const own = optionLines(c.options);
  const common = optionLines(JSON_OPTION);
  return (
    `${c.summary}\n\nUsage: settle ${c.usage}\n\n` +
    (own.length ? `Options:\n${own.join('\n')}\n\n` : '') +
    `Common options:\n${common.join('\n')}\n\nExamples:\n${c.examples.map((e) => `  ${e}`).join('\n')}\n`
  );
}

let cachedClient: Promise<Client> | undefined;
let cachedConnection: Connection | undefined;

/** The payload codec when SETTLE_ENCRYPTION_KEY (or _OLD_KEYS) is configured; bad key settings fail before anything starts. */
function clientDataConverter(): ReturnType<typeof encryptionDataConverter> {
  try {
    return encryptionDataConverter(AesGcmCodec.fromEnv(process.env));
  } catch (err) {
    if (err instanceof EncryptionConfigError) throw usageError(`bad encryption settings: ${err.message}`);
    throw err;
  }
}

export async function connectClient(target: CliTarget = cliTarget()): Promise<Client> {
  const dataConverter = clientDataConverter();
  const { Client, Connection } = temporalClient();
  try {
    await probeTcp(target.address);
    const connection = await Connection.connect({ ...target.connectionOptions, connectTimeout: 5000 });
    // The SDK connects lazily on some paths: prove the server answers before anything is started.
    await connection.workflowService.getSystemInfo({});
    cachedConnection = connection;
    const interceptors = clientTracingInterceptors(); // OTLP tracing when OTEL_EXPORTER_OTLP_ENDPOINT is set
    return new Client({
      connection,
      namespace: target.namespace,
      ...(dataConverter ? { dataConverter } : {}),
      ...(interceptors ? { interceptors } : {}),
    });
  } catch (err) {
    throw new CliError(
      `cannot reach Temporal at ${describeTarget(target)}: ${(err as Error).message.split('\n')[0]}.\n` +
        `Start the local stack with 'npm start' (its stack file is found through SETTLE_DATA_DIR), or give --address / --namespace, ` +
        `or point TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE (and TLS / API key) at your cluster.`,
      EXIT.unreachable,
    );
  }
}

/** Fail fast on a refused port instead of waiting out the gRPC connect deadline. */
export function probeTcp(address: string): Promise<void> {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) return Promise.resolve();
  const host = m[1]!.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port: Number(m[2]) });
    const done = (err?: Error): void => {
      sock.destroy();
      if (err) reject(err);
      else resolve();
    };
    sock.setTimeout(3000, () => done(new Error('connection timed out')));
    sock.once('connect', () => done());
    sock.once('error', (e) =>
      done(
        new Error((e as NodeJS.ErrnoException).code === 'ECONNREFUSED' ? 'connection refused' : e.message),
      ),
    );
  });
}

export async function closeClient(): Promise<void> {
  const conn = cachedConnection;
  cachedConnection = undefined;
  cachedClient = undefined;
  await conn?.close().catch(() => undefined);
  await flushClientTracing();
}

/**
 * `--amount -5`: parseArgs reads "-5" as a flag and says "argument is ambiguous". A value that looks like a negative
 * number is joined to its option (`--amount=-5`), so the command's own validation explains what is allowed.
 */
export function joinNegativeValues(argv: string[], options: Options): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const name = a.startsWith('--') ? a.slice(2) : undefined;
    const next = argv[i + 1];
    if (name && options[name]?.type === 'string' && next !== undefined && /^-\d/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

export async function runCommand(c: Command, argv: string[]): Promise<number> {
  const options = { ...JSON_OPTION, ...c.options };
  let parsed;
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: Object.fromEntries(
        Object.entries(options).map(([k, o]) => [
          k,
          {
            type: o.type,
            ...(o.short ? { short: o.short } : {}),
            ...(o.multiple ? { multiple: o.multiple } : {}),
            ...(o.default !== undefined ? { default: o.default } : {}),
          },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw usageError(`${(err as Error).message}\nUsage: settle ${c.usage}  (see: settle ${c.name} --help)`);
  }
  const values = parsed.values as Values;
  if (values.help) {
    process.stdout.write(helpText(c));
    return EXIT.ok;
  }
  const spec = c.positionals ?? [];
  const required = spec.filter((p) => p.required).length;
  if (parsed.positionals.length < required)
    throw usageError(
      `missing ${spec
        .slice(parsed.positionals.length)
        .filter((p) => p.required)
        .map((p) => `<${p.name}>`)
        .join(' ')}\nUsage: settle ${c.usage}`,
    );
  if (parsed.positionals.length > spec.length)
    throw usageError(`unexpected argument '${parsed.positionals[spec.length]}'\nUsage: settle ${c.usage}`);
  const json = values.json === true;
  let target: CliTarget | undefined;
  const resolveTarget = (): CliTarget =>
    (target ??= cliTarget({ address: str(values.address), namespace: str(values.namespace) }));
  const ctx: CommandContext = {
    values,
    positionals: parsed.positionals,
    json,
    out: (t) => {
      if (!json) process.stdout.write(t.endsWith('\n') ? t : `${t}\n`);
    },
    emit: (doc) => process.stdout.write(JSON.stringify(doc, null, 2) + '\n'),
    client: () => (cachedClient ??= connectClient(resolveTarget())),
    target: resolveTarget,
    note: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  };
  return (await c.run(ctx)) ?? EXIT.ok;
}

export function str(v: Values[string]): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Parse a whole number flag strictly ("2", not "2.5", "2x" or "-1"). */
export function intFlag(
  name: string,
  v: Values[string],
  opts: { min?: number; max?: number } = {},
): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^-?\d+$/.test(s)) throw usageError(`--${name} must be a whole number, got '${s}'`);
  const n = Number(s);
  if (opts.min !== undefined && n < opts.min)
    throw usageError(`--${name} must be at least ${opts.min}, got ${n}`);
  if (opts.max !== undefined && n > opts.max)
    throw usageError(`--${name} must be at most ${opts.max}, got ${n}`);
  return n;
}
