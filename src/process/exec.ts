/**
 * Runs one user command for the runner, or a coding agent for the command proposer: its own process
 * group, a timeout, an output cap, RSS sampling of the whole process tree, and a tree kill that
 * leaves nothing running behind it.
 *
 * Every command carries a mark in its environment (RSI_RUN, see withMark) that its descendants
 * inherit: on Linux a process that left the tree (a double-forked daemon, a setsid grandchild whose
 * parent died) is still found by it in /proc/PID/environ, and a process whose runner was killed can
 * be found by its engine (killMarked).
 *
 * POSIX only (Linux, macOS): it relies on process groups, and on /proc (Linux) or `ps` (macOS) to
 * see the tree. macOS has no /proc: the tree is followed by parent pid only, and marks are not read.
 * Windows is not supported by the runner yet.
 *
 * Only Node builtins: the runner must stay lighter than what it measures.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Readable, Writable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import { UserError } from '../protocol/errors';
import { GRACE_MS, killMarked, killProcTree, LINUX, nextCommandMark, PROCESS_MARK, ProcTree, withMark } from './tree';

/** Bound on waiting for our pipes to close after the spawned process exits (an escaped daemon may hold them). */
const CLOSE_WAIT_MS = 1000;
/** The first this many ms of a command are sampled every YOUNG_INTERVAL_MS (see nextInterval). */
const YOUNG_MS = 500;
const YOUNG_INTERVAL_MS = 5;

export type ExecOptions = ExecSettings & (ShellCommand | DirectCommand);

interface ShellCommand {
  /** Run through the shell: `/bin/sh -c command`. */
  command: string;
  argv?: undefined;
}

/** A program and its arguments, no shell: a coding-agent CLI's arguments must reach it verbatim. */
interface DirectCommand {
  /** argv[0] is looked up on the PATH. */
  argv: [string, ...string[]];
  command?: undefined;
}

interface ExecSettings {
  cwd: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  /** Cap on captured stdout and on captured stderr (each); the rest is dropped, the command keeps running. */
  outputBytes: number;
  /** Kill the tree when the peak RSS of the process tree (see ExecResult.peakRssBytes) exceeds this. */
  memoryLimitBytes?: number;
  /** RSS sampling period: default 25 ms on Linux; at least 100 ms elsewhere, where each sample spawns `ps`. */
  sampleIntervalMs?: number;
  /** Abort to cancel: the tree is killed and the result says killedFor 'cancel'. */
  signal?: AbortSignal;
  /** Written to the program's stdin, which is then closed; without it stdin is /dev/null. */
  input?: string;
  /** Run the command and everything it starts on this CPU only (Linux, through `taskset`; see cpus.ts). */
  cpu?: number;
}

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Some stdout or stderr was dropped by the cap. */
  truncated: boolean;
  /** Some stdout was dropped by the cap (an answer read from stdout is then incomplete). */
  stdoutTruncated: boolean;
  /** From spawn to the spawned process's exit (performance.now). */
  wallMs: number;
  /**
   * Peak memory of the process tree, in bytes: the larger of (a) the largest sum of the members'
   * current RSS over the samples and (b) the largest VmHWM (the kernel's own per-process RSS
   * high-water mark) of any member. (b) catches a spike between two samples of a process that did
   * the work alone, which is the common case; summing high-water marks instead would overstate
   * processes that peaked at different times. Both are lower bounds of the true peak, so the
   * figure never overstates. A process that lives and dies between two samples is missed.
   * macOS has no high-water mark in `ps`: (a) only.
   */
  peakRssBytes: number;
  killedFor?: 'timeout' | 'memory' | 'cancel';
}

/** Cancels of the commands still running. */
const running = new Set<() => Promise<void>>();

/**
 * Kill every command still running and whatever any command of this process left (the runner calls
 * this when its parent goes away).
 */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((cancel) => cancel()));
  await killMarked(PROCESS_MARK);
}

class Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly cap: number) {}

  push(chunk: Buffer): void {
    const room = Math.max(0, this.cap - this.size);
    if (chunk.length > room) this.truncated = true;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.chunks.push(part);
      this.size += part.length;
    }
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** Run a command; never throws for a failing command (its exit is the result), only when it cannot start. */
export async function execCommand(options: ExecOptions): Promise<ExecResult> {
  if (process.platform === 'win32') throw new UserError('the RSI runner does not support Windows yet (it relies on POSIX process groups)');
  if (options.signal?.aborted) {
    return { exitCode: null, signal: null, stdout: '', stderr: '', truncated: false, stdoutTruncated: false, wallMs: 0, peakRssBytes: 0, killedFor: 'cancel' };
  }
  const started = performance.now();
  const argv = options.argv ?? ['/bin/sh', '-c', options.command];
  // taskset sets the affinity and execs the command in the same process: no process more in the tree.
  const [file, ...args] = options.cpu === undefined ? argv : ['taskset', '-c', String(options.cpu), ...argv];
  const mark = nextCommandMark();
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: withMark(options.env ?? process.env, mark),
    detached: true, // setsid(): own session and process group, so the tree can be found and killed
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    const [error] = (await once(child, 'error')) as [Error];
    const where = statSync(options.cwd, { throwIfNoEntry: false })?.isDirectory() ? '' : ' (the directory does not exist)';
    throw new UserError(`cannot start ${file} in ${options.cwd}${where}: ${error.message}`, { cause: error });
  }
  child.on('error', () => {}); // after a successful spawn only kill() can fail, and we ignore ESRCH
  // Pipes as set in stdio above (TypeScript cannot tell when stdin is chosen at run time).
  const { stdin, stdout, stderr } = child as ChildProcessByStdio<Writable | null, Readable, Readable>;
  if (stdin) {
    stdin.on('error', () => {}); // EPIPE: the program exited or closed stdin without reading it all
    stdin.end(options.input);
  }
  // Not events.once: it would reject on 'error'.
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, sig) => resolve([code, sig])));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));

  const tree = new ProcTree(child.pid, mark);
  const out = new Capture(options.outputBytes);
  const err = new Capture(options.outputBytes);
  stdout.on('data', (chunk: Buffer) => out.push(chunk));
  stderr.on('data', (chunk: Buffer) => err.push(chunk));

  let killedFor: ExecResult['killedFor'];
  let killing: Promise<void> | undefined;
  let exitSeen = false; // a command that exited on its own is not reported as killed
  const kill = (reason: NonNullable<ExecResult['killedFor']>, graceMs = GRACE_MS) => {
    if (killedFor || exitSeen) return;
    killedFor = reason;
    killing = killProcTree(tree, graceMs);
  };
  const timer = setTimeout(() => kill('timeout'), options.timeoutMs);
  const onAbort = () => kill('cancel');
  options.signal?.addEventListener('abort', onAbort, { once: true });

  let peak = 0;
  let sampling = true;
  let sampleTimer: NodeJS.Timeout | undefined;
  // Elsewhere each sample spawns `ps`: not more often than every 100 ms.
  const interval = LINUX ? (options.sampleIntervalMs ?? 25) : Math.max(options.sampleIntervalMs ?? 0, 100);
  // A process that ends before a few samples is seen at a random point of its growth (an 80 ms
  // backtest measured 34-48 MiB at 25 ms, 48-50 MiB at 5 ms): sample densely while it is young, so
  // a short baseline's peak is not underestimated and its candidates killed for memory they share.
  const nextInterval = () => (LINUX && performance.now() - started < YOUNG_MS ? Math.min(interval, YOUNG_INTERVAL_MS) : interval);
  const tick = async () => {
    const { sum, hwm } = await tree.sample().catch(() => ({ sum: 0, hwm: 0 }));
    if (!sampling) return;
    peak = Math.max(peak, sum, hwm);
    // A tree over its memory limit gets no grace: it could keep growing during it.
    if (options.memoryLimitBytes !== undefined && peak > options.memoryLimitBytes) kill('memory', 0);
    sampleTimer = setTimeout(tick, nextInterval());
  };
  void tick();

  let finish!: () => void;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const cancel = async () => {
    kill('cancel');
    await finished;
  };
  running.add(cancel);
  try {
    const [exitCode, exitSignal] = await exited;
    const wallMs = performance.now() - started;
    exitSeen = true;
    sampling = false;
    clearTimeout(sampleTimer);
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    // Processes left behind (background jobs) would skew the next measurement: they go too.
    await (killing ?? killProcTree(tree, GRACE_MS));
    await Promise.race([closed, delay(CLOSE_WAIT_MS)]);
    stdout.destroy();
    stderr.destroy();
    return {
      exitCode,
      signal: exitSignal,
      stdout: out.text(),
      stderr: err.text(),
      truncated: out.truncated || err.truncated,
      stdoutTruncated: out.truncated,
      wallMs,
      peakRssBytes: peak,
      ...(killedFor ? { killedFor } : {}),
    };
  } finally {
    running.delete(cancel);
    finish();
  }
}
