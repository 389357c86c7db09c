/**
 * The runner: a forked child that executes user code for the engine. Only Node builtins load at
 * start-up, so it answers quickly and weighs little next to what it measures.
 */
import { killAll } from '../process/exec';
import { toWire } from '../protocol/errors';
import { evaluate, gate, measure, Sandboxes } from './evaluate';
import { profile } from './profile';
import { CancelledError, type FromRunner, type Method, type ProgressEvent, type RunnerMethods, type SandboxSpec, type ToRunner } from '../protocol/runner';
import { SandboxPool } from './sandbox';
import type { Target } from '../protocol/evaluation';

let pool: SandboxPool | undefined;
const sandboxes = new Sandboxes(async (spec) => {
  if (!pool || pool.workspace !== spec.workspace || pool.storageRoot !== spec.storageRoot) {
    await pool?.release();
    pool = new SandboxPool(spec.storageRoot, spec.workspace);
  }
  return pool;
});
const inFlight = new Map<number, AbortController>();

function send(message: FromRunner): void {
  // The engine may be gone (its exit closes the channel): a send must not crash the runner, which
  // is shutting down then and must finish killing what it runs and releasing the lock.
  if (!process.connected) return;
  process.send?.(message, undefined, {}, (error: Error | null) => {
    if (error) void shutdown(0);
  });
}

type Handler<M extends Method> = (
  params: RunnerMethods[M]['params'],
  signal: AbortSignal,
  emit: (event: ProgressEvent) => void,
) => Promise<RunnerMethods[M]['result']>;

const handlers: { [M in Method]: Handler<M> } = {
  async ping() {
    return { pid: process.pid, rssBytes: process.memoryUsage.rss(), uptimeMs: Math.round(process.uptime() * 1000) };
  },
  async prepare({ sandbox, base }, _signal, emit) {
    const started = performance.now();
    await hold(sandbox, { base, candidate: {} }, emit);
    return { ms: Math.round(performance.now() - started) };
  },
  gate: async (params, signal, emit) => gate(params, await hold(params.sandbox, params, emit), signal, emit),
  measure: async (params, signal, emit) => measure(params, await hold(params.sandbox, params, emit), signal, emit),
  evaluate: async (params, signal, emit) => evaluate(params, await hold(params.sandbox, params, emit), signal, emit),
  // A separate bundle (dist/history.js, with isomorphic-git), loaded by the first request: the
  // runner starts without parsing it.
  history: async (params, signal) => (await import('./history.js')).history(params, signal),
  profile: async (params, signal, emit) => profile(params, async () => (await hold(params, { base: params.base, candidate: {}, hiddenEnv: params.hiddenEnv }, emit)).baseline, signal, emit),
  async release() {
    await pool?.release();
    pool = undefined;
    sandboxes.forget();
    return {};
  },
};

const hold = (spec: SandboxSpec, target: Target, emit: (e: ProgressEvent) => void) =>
  sandboxes.hold(spec, target, (message) => emit({ kind: 'log', message, debug: true }));

async function handle(message: ToRunner): Promise<void> {
  if (message.type === 'cancel') {
    inFlight.get(message.id)?.abort();
    return;
  }
  const { id, method } = message;
  const controller = new AbortController();
  inFlight.set(id, controller);
  try {
    const handler = handlers[method] as Handler<Method>;
    if (!handler) throw new Error(`unknown method ${method}`);
    const result = await handler(message.params as never, controller.signal, (event) => send({ type: 'event', id, event }));
    send({ type: 'response', id, result });
  } catch (err) {
    const error = toWire(controller.signal.aborted ? new CancelledError() : err);
    // The program's own errors reach the engine's log with their stack, through stderr.
    if (error.kind === 'program') process.stderr.write(`${method} failed: ${error.stack ?? error.message}\n`);
    send({ type: 'response', id, error });
  } finally {
    inFlight.delete(id);
  }
}

let shuttingDown: Promise<never> | undefined;

/** Kill everything the runner's commands started, release the lock, exit; once, whoever asks. */
function shutdown(code: number): Promise<never> {
  shuttingDown ??= (async () => {
    for (const controller of inFlight.values()) controller.abort();
    await killAll();
    await pool?.release().catch(() => undefined);
    process.exit(code);
  })();
  return shuttingDown;
}

if (!process.send) {
  process.stderr.write('the RSI runner is started by the rsi CLI or the extension, not by hand\n');
  process.exit(2);
}
process.on('message', (message: ToRunner) => void handle(message));
// The parent is gone (crash, kill -9): leave nothing running behind it.
process.on('disconnect', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// Ctrl-C in a terminal signals the whole foreground process group, the runner with its engine: the
// engine decides (it cancels, then stops the runner, or dies and disconnects). Dying here at once
// would leave the commands, which run in sessions of their own, running.
process.on('SIGINT', () => {});
send({ type: 'ready', pid: process.pid, rssBytes: process.memoryUsage.rss() });
