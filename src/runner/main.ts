/**
 * The runner: a forked child that executes user code for the engine. Only Node builtins load at
 * start-up, so it answers quickly and weighs little next to what it measures.
 */
import { execCommand, killAll } from './exec';
import { failureExcerpt } from '../core/text';
import { toWire } from '../protocol/errors';
import { compare, sample, type SideDirs } from './measure';
import { profile } from './profile';
import { CancelledError, type FromRunner, type GateParams, type GateResult, type Method, type ProgressEvent, type RunnerMethods, type ToRunner } from './protocol';
import { SandboxPool, type Sandbox } from './sandbox';

let pool: SandboxPool | undefined;
let sandboxes: { a: Sandbox; b: Sandbox } | undefined;
const inFlight = new Map<number, AbortController>();

function send(message: FromRunner): void {
  // The engine may be gone (its exit closes the channel): a send must not crash the runner, which
  // is shutting down then and must finish killing what it runs and releasing the lock.
  if (!process.connected) return;
  process.send?.(message, undefined, {}, (error: Error | null) => {
    if (error) void shutdown(0);
  });
}

function dirs(): SideDirs {
  if (!sandboxes) throw new Error('no sandbox prepared: call prepare first');
  return { baseline: sandboxes.a.dir, candidate: sandboxes.b.dir };
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
  async prepare(params) {
    const started = performance.now();
    // Gone from the runner's own environment, so no command it starts can read them.
    for (const name of params.hiddenEnv ?? []) delete process.env[name];
    if (!pool || pool.workspace !== params.workspace || pool.storageRoot !== params.storageRoot) {
      await pool?.release();
      pool = new SandboxPool(params.storageRoot, params.workspace);
    }
    const prepared = await pool.acquire(params.overlay);
    sandboxes = { a: prepared.a, b: prepared.b };
    return {
      baselineDir: prepared.a.dir,
      candidateDir: prepared.b.dir,
      copied: prepared.copied,
      deleted: prepared.deleted,
      ms: Math.round(performance.now() - started),
    };
  },
  async setCandidate(params) {
    const started = performance.now();
    if (!sandboxes) throw new Error('no sandbox prepared: call prepare first');
    await sandboxes.b.applyCandidate(params.files);
    return { ms: Math.round(performance.now() - started) };
  },
  async gate(params, signal, emit) {
    return runGate(params, dirs()[params.side], signal, emit);
  },
  sample: (params, signal, emit) => sample(params, dirs(), signal, emit),
  compare: (params, signal, emit) => compare(params, dirs(), signal, emit),
  // A separate bundle (dist/history.js, with isomorphic-git), loaded by the first request: the
  // runner starts without parsing it.
  history: async (params, signal) => (await import('./history.js')).history(params, signal),
  profile: (params, signal, emit) => profile(params, () => dirs().baseline, signal, emit),
  async release() {
    await pool?.release();
    pool = undefined;
    sandboxes = undefined;
    return {};
  },
};

async function runGate(params: GateParams, cwd: string, signal: AbortSignal, emit: (e: ProgressEvent) => void): Promise<GateResult> {
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  for (const command of params.commands) {
    emit({ kind: 'gate', side: params.side, command });
    const result = await execCommand({ command, cwd, timeoutMs: params.timeoutMs, outputBytes: params.outputBytes, signal });
    if (result.killedFor === 'cancel') throw new CancelledError();
    if (result.killedFor === 'timeout') {
      return { ok: false, command, reason: `timed out after ${params.timeoutMs} ms`, output: failureExcerpt(result.stdout + '\n' + result.stderr), ms: ms() };
    }
    if (result.exitCode !== 0) {
      const reason = result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
      return { ok: false, command, reason, output: failureExcerpt(result.stdout + '\n' + result.stderr), ms: ms() };
    }
  }
  return { ok: true, ms: ms() };
}

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
