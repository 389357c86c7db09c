import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mib } from '../core/format';
import { judge, type Comparison, type SamplingPolicy, type Verdict } from '../core/stats';
import { firstLines } from '../core/text';
import { UserError } from '../protocol/errors';
import { allowedCpus, shareOf } from '../process/cpus';
import { execCommand, type ExecResult } from '../process/exec';
import type { MetricReader, MetricSpec, Side } from '../protocol/metric';
import { CancelledError, type CpuShare, type ProgressEvent } from '../protocol/runner';

type Emit = (event: ProgressEvent) => void;

/** A metric that fails on the unmodified workspace is the user's to fix, in their config or code. */
const FIX_METRIC = '\n(the metric must work on the unmodified workspace: check metric.command and metric.read in .rsi/config.json)';

export interface SideDirs {
  baseline: string;
  candidate: string;
}

/** One metric run: the number, or why there is none. */
type Run =
  | { ok: true; value: number; peakRssBytes: number; wallMs: number }
  | { ok: false; outcome: 'crashed' | 'timeout' | 'memory-exceeded'; detail: string };

/**
 * CPU time of a command's whole process tree, from the kernel's own accounting: getrusage
 * (RUSAGE_CHILDREN) after the command was waited for, the user + system time of every descendant
 * that was reaped (not sampled, so a short-lived grandchild counts too). A process that escapes its
 * parent's wait (a daemon) is not counted. The report goes to a file, so the command's own stdout and
 * stderr stay untouched. Node has no RUSAGE_CHILDREN (process.resourceUsage() is the process's own),
 * /proc's cutime and perl's `times` are 10 ms ticks, GNU time prints 10 ms, so the timer is, by
 * preference:
 * - zsh's `time` keyword: microseconds (%uU, zsh >= 5.5); macOS ships it as /bin/zsh.
 * - perl calling getrusage(2) itself through `syscall`: microseconds, on Linux without zsh.
 *   perl-base is Essential on Debian and Ubuntu, unlike zsh and python3; `syscall` takes the
 *   system call's number, Linux's own per architecture (known here for the common ones).
 * - bash's `time` keyword: at most 3 decimals, whole milliseconds (checked on bash 5.2: %6U prints
 *   0.283), 3% of a 33 ms benchmark.
 * The kernel keeps CPU time in nanoseconds and only splits user from system by ticks, so their sum,
 * the figure read here, is exact to the report's unit.
 */
interface CpuTimer {
  name: string;
  /** The smallest step of its reports, in ms. */
  resolutionMs: number;
  available: () => boolean;
  argv: (command: string, reportFile: string) => [string, ...string[]];
  /** Milliseconds of user + system time from the report. */
  parse: (report: string) => number;
}

/** Linux's number of the getrusage system call, by Node's name of the architecture. */
const GETRUSAGE_SYSCALL: Partial<Record<NodeJS.Architecture, number>> = { x64: 98, arm64: 165, riscv64: 165, ia32: 77, arm: 77 };

/** Runs the command, then writes its tree's user and system microseconds (RUSAGE_CHILDREN is -1) and exits with its status. */
const PERL_TIMER = `my ($command, $report, $getrusage) = @ARGV;
system('/bin/sh', '-c', $command);
my $status = $?;
my $usage = "\\0" x 256;
if (syscall($getrusage, -1, $usage) == 0 && open(my $out, '>', $report)) {
  my ($us, $uus, $ss, $sus) = unpack('l!4', $usage);
  print $out ($us * 1000000 + $uus, " ", $ss * 1000000 + $sus);
  close($out);
}
exit($status & 127 ? 128 + ($status & 127) : $status >> 8);`;

const TIMED = '{ time /bin/sh -c "$1" 2>&3 3>&-; } 3>&2 2>"$2"';
const CPU_TIMERS: CpuTimer[] = [
  {
    name: "zsh's time",
    resolutionMs: 0.001,
    available: () => onPath('zsh'),
    argv: (command, file) => ['zsh', '-f', '-c', `TIMEFMT='%uU %uS'; ${TIMED}`, 'rsi-cpu-time', command, file],
    parse: (report) => sumFields(report.replace(/us/g, '')) / 1000, // whole microseconds
  },
  {
    name: 'getrusage through perl',
    resolutionMs: 0.001,
    available: () => process.platform === 'linux' && GETRUSAGE_SYSCALL[process.arch] !== undefined && onPath('perl'),
    argv: (command, file) => ['perl', '-e', PERL_TIMER, command, file, String(GETRUSAGE_SYSCALL[process.arch])],
    parse: (report) => sumFields(report) / 1000, // whole microseconds
  },
  {
    name: "bash's time",
    resolutionMs: 1,
    available: () => onPath('bash'),
    argv: (command, file) => ['bash', '-c', `TIMEFORMAT='%3U %3S'; ${TIMED}`, 'rsi-cpu-time', command, file],
    parse: (report) => Math.round(sumFields(report) * 1000), // whole milliseconds, without binary fractions' residue
  },
];

function sumFields(report: string): number {
  const fields = report.trim().split(/\s+/).map(Number);
  return fields.length === 2 && fields.every(Number.isFinite) ? fields[0]! + fields[1]! : NaN;
}

function onPath(program: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir && existsSync(path.join(dir, program)));
}

/** The CPUs pairs are pinned to; none where a process's CPUs cannot be chosen (macOS: the setting has no effect there). */
function pinnableCpus(): number[] {
  const cpus = allowedCpus();
  if (cpus.length > 0 && !onPath('taskset')) throw new UserError('sampling.pinPairs needs `taskset` (util-linux) on the PATH: install it, or set sampling.pinPairs to false in .rsi/config.json');
  return cpus;
}

let cpuTimer: CpuTimer | null | undefined;
let reportDir: string | undefined;
let reports = 0;

function findCpuTimer(): CpuTimer | null {
  return (cpuTimer ??= CPU_TIMERS.find((timer) => timer.available()) ?? null);
}

/** Which timer "cpuTime" uses on this machine, and its resolution (for reports); null when there is none. */
export function cpuTimerInfo(): { name: string; resolutionMs: number } | null {
  const timer = findCpuTimer();
  return timer && { name: timer.name, resolutionMs: timer.resolutionMs };
}

async function runMetric(metric: MetricSpec, cwd: string, signal: AbortSignal, memoryLimitBytes?: number, cpu?: number): Promise<Run> {
  const settings = { cwd, timeoutMs: metric.timeoutMs, outputBytes: metric.outputBytes, memoryLimitBytes, signal, cpu };
  if (metric.read !== 'cpuTime') return toRun(metric, await execCommand({ command: metric.command, ...settings }), memoryLimitBytes);
  const timer = findCpuTimer();
  if (!timer) return { ok: false, outcome: 'crashed', detail: 'metric.read "cpuTime" needs zsh, perl or bash on the PATH; install one, or read "wallTime"' };
  if (!reportDir) {
    const dir = (reportDir = mkdtempSync(path.join(os.tmpdir(), 'rsi-cpu-')));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const reportFile = path.join(reportDir, String(++reports));
  try {
    const result = await execCommand({ argv: timer.argv(metric.command, reportFile), ...settings });
    let cpuMs = NaN;
    try {
      cpuMs = timer.parse(readFileSync(reportFile, 'utf8'));
    } catch {
      // No report: the shell was killed; toRun() says why.
    }
    return toRun(metric, { ...result, cpuMs }, memoryLimitBytes);
  } finally {
    rmSync(reportFile, { force: true });
  }
}

function toRun(metric: MetricSpec, result: ExecResult & { cpuMs?: number }, memoryLimitBytes?: number): Run {
  if (result.killedFor === 'cancel') throw new CancelledError();
  if (result.killedFor === 'timeout') return { ok: false, outcome: 'timeout', detail: `metric command timed out after ${metric.timeoutMs} ms` };
  if (result.killedFor === 'memory') {
    return {
      ok: false,
      outcome: 'memory-exceeded',
      detail: `peak RSS ${mib(result.peakRssBytes)} exceeded the limit of ${mib(memoryLimitBytes ?? 0)} (the baseline's peak plus limits.memoryGrowth in .rsi/config.json)`,
    };
  }
  if (result.exitCode !== 0) {
    return { ok: false, outcome: 'crashed', detail: `metric command ${exitText(result)}\n${firstLines(result.stderr || result.stdout)}` };
  }
  const value = readMetric(metric.read, result);
  if (typeof value === 'string') return { ok: false, outcome: 'crashed', detail: `${value}\n${firstLines(result.stdout)}` };
  return { ok: true, value, peakRssBytes: result.peakRssBytes, wallMs: result.wallMs };
}

/** The metric's number from a finished run, or a sentence saying why it could not be read. */
export function readMetric(read: MetricReader, result: Pick<ExecResult, 'stdout' | 'wallMs'> & { cpuMs?: number }): number | string {
  if (read === 'wallTime') return result.wallMs;
  if (read === 'cpuTime') {
    return Number.isFinite(result.cpuMs) ? result.cpuMs! : 'metric not found: the shell gave no CPU time report';
  }
  if ('regex' in read) {
    const match = new RegExp(read.regex).exec(result.stdout);
    if (!match) return `metric not found: no match for /${read.regex}/ in the output`;
    return toNumber(match[1] ?? match[0], `/${read.regex}/`);
  }
  // The last line that parses as JSON and has the field: tolerant of logs printed before it.
  const lines = result.stdout.split('\n').reverse();
  for (const line of lines) {
    if (!line.trim().startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    for (const key of read.json.split('.')) value = (value as Record<string, unknown> | undefined)?.[key];
    if (value !== undefined) return toNumber(value, `field "${read.json}"`);
  }
  return `metric not found: no JSON line with field "${read.json}" in the output`;
}

function toNumber(raw: unknown, what: string): number | string {
  const value = typeof raw === 'number' ? raw : Number.parseFloat(String(raw));
  return Number.isFinite(value) ? value : `metric ${what} is not a finite number: ${JSON.stringify(raw)}`;
}

/** Runs one side `runs` times (on `cpu` only, when given): a metric's values on their own (tests, the bench's trials). */
export async function sample(params: { metric: MetricSpec; side: Side; runs: number; cpu?: number }, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<{ values: number[]; peakRssBytes: number }> {
  const values: number[] = [];
  let peakRssBytes = 0;
  for (let index = 0; index < params.runs; index++) {
    const run = await runMetric(params.metric, dirs[params.side], signal, undefined, params.cpu);
    if (!run.ok) throw new UserError(`the ${params.side} ${run.detail}${FIX_METRIC}`);
    values.push(run.value);
    peakRssBytes = Math.max(peakRssBytes, run.peakRssBytes);
    emit({ kind: 'run', side: params.side, index, value: run.value, wallMs: run.wallMs });
  }
  return { values, peakRssBytes };
}

export interface CompareParams {
  metric: MetricSpec;
  policy: SamplingPolicy;
  /** Kill a candidate run whose process tree's peak RSS exceeds this. */
  memoryLimitBytes?: number;
  /** A deterministic baseline's value: the baseline need not be run again. */
  constantBaseline?: number;
  /** Add exactly `pairs` fresh pairs to these earlier ones, then judge them all (no early stop). */
  extend?: { baseline: number[]; candidate: number[]; pairs: number };
  /** Another decision on the pairs than `judge` with `policy` (a guard's). */
  decide?: (baseline: number[], candidate: number[]) => { done: boolean; verdict: Verdict; comparison: Comparison };
  /** What to fix when the baseline's run fails (by default: the metric in the config). */
  fixHint?: string;
  /** Both runs of each pair on one CPU, two pairs of opposite order on each CPU in turn (`sampling.pinPairs`; Linux). */
  pinPairs?: boolean;
  /** The CPUs of those a pool slot may take, when slots time side by side; all of them when absent. */
  cpuShare?: CpuShare;
}
export type CompareResult =
  | { ok: true; baseline: number[]; candidate: number[]; verdict: Verdict; comparison: Comparison; peakRssBytes: Record<Side, number> }
  /** The candidate's run failed: its outcome and why. */
  | { ok: false; outcome: 'crashed' | 'timeout' | 'memory-exceeded'; detail: string; baseline: number[]; candidate: number[] };

/**
 * Interleaved runs, in pairs of alternating order (baseline then candidate, then candidate then
 * baseline, ...), until the sequential test decides:
 * drift of the machine then hits both sides of a pair alike instead of passing as an effect.
 * With `extend`, a fixed number of fresh pairs is added to earlier ones and all are judged at once
 * (a re-test, or a measurement that wants an estimate rather than an early decision).
 */
export async function compare(params: CompareParams, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<CompareResult> {
  const baseline: number[] = [...(params.extend?.baseline ?? [])];
  const candidate: number[] = [...(params.extend?.candidate ?? [])];
  const fresh = params.extend ? baseline.length + params.extend.pairs : Infinity;
  const peak = { baseline: 0, candidate: 0 };
  const cpus = params.pinPairs ? shareOf(pinnableCpus(), params.cpuShare) : [];
  const runSide = async (side: Side, cpu: number | undefined): Promise<Run> => {
    const run = await runMetric(params.metric, dirs[side], signal, side === 'candidate' ? params.memoryLimitBytes : undefined, cpu);
    if (run.ok) {
      (side === 'baseline' ? baseline : candidate).push(run.value);
      peak[side] = Math.max(peak[side], run.peakRssBytes);
      emit({ kind: 'run', side, index: (side === 'baseline' ? baseline : candidate).length - 1, value: run.value, wallMs: run.wallMs });
    }
    return run;
  };
  for (;;) {
    // Every other pair runs the candidate first (A B, B A, ...): whatever the first run of a pair
    // leaves to the second (warm caches, a timer tick, a page cache just filled) falls on both sides alike.
    const candidateFirst = candidate.length % 2 === 1;
    // One CPU for both runs of the pair: a CPU slower than another at this moment slows both alike.
    // The CPU changes every two pairs, so each CPU sees both orders (with one change per pair and two
    // CPUs, one CPU would run every baseline-first pair and the other every candidate-first one).
    const cpu = cpus.length ? cpus[Math.floor(candidate.length / 2) % cpus.length] : undefined;
    if (candidateFirst) {
      const run = await runSide('candidate', cpu);
      if (!run.ok) return { ok: false, outcome: run.outcome, detail: run.detail, baseline, candidate };
    }
    if (params.constantBaseline === undefined) {
      const run = await runSide('baseline', cpu);
      if (!run.ok) throw new UserError(`the baseline ${run.detail}${params.fixHint ?? FIX_METRIC}`);
    } else {
      baseline.push(params.constantBaseline);
    }
    if (!candidateFirst) {
      const run = await runSide('candidate', cpu);
      if (!run.ok) return { ok: false, outcome: run.outcome, detail: run.detail, baseline, candidate };
    }
    const decision = params.decide ? params.decide(baseline, candidate) : judge(baseline, candidate, params.policy);
    if (params.extend ? baseline.length >= fresh : decision.done) {
      return { ok: true, baseline, candidate, verdict: decision.verdict, comparison: decision.comparison, peakRssBytes: peak };
    }
  }
}

function exitText(result: ExecResult): string {
  return result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
}

