import type { MetricReader } from '../core/config';
import { judge, isConstant } from '../core/stats';
import { firstLines } from '../core/text';
import { UserError } from '../protocol/errors';
import { execCommand, type ExecResult } from './exec';
import { CancelledError, type CompareParams, type CompareResult, type MetricSpec, type ProgressEvent, type SampleParams, type SampleResult, type Side } from './protocol';

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

async function runMetric(metric: MetricSpec, cwd: string, signal: AbortSignal, memoryLimitBytes?: number): Promise<Run> {
  const result = await execCommand({
    command: metric.command,
    cwd,
    timeoutMs: metric.timeoutMs,
    outputBytes: metric.outputBytes,
    memoryLimitBytes,
    signal,
  });
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
export function readMetric(read: MetricReader, result: Pick<ExecResult, 'stdout' | 'wallMs'>): number | string {
  if (read === 'wallTime') return result.wallMs;
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

/** Runs one side `runs` times (the baseline's spread, its peak memory, or A/A calibration). */
export async function sample(params: SampleParams, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<SampleResult> {
  const values: number[] = [];
  let peakRssBytes = 0;
  for (let index = 0; index < params.runs; index++) {
    const run = await runMetric(params.metric, dirs[params.side], signal);
    if (!run.ok) throw new UserError(`the ${params.side} ${run.detail}${FIX_METRIC}`);
    values.push(run.value);
    peakRssBytes = Math.max(peakRssBytes, run.peakRssBytes);
    emit({ kind: 'run', side: params.side, index, value: run.value, wallMs: run.wallMs });
    if (params.stopWhenConstant && values.length >= 2 && isConstant(values)) break;
  }
  return { values, peakRssBytes };
}

/**
 * Interleaved A/B runs (baseline, candidate, baseline, ...) until the sequential test decides:
 * drift of the machine then hits both sides alike instead of passing as an effect.
 */
export async function compare(params: CompareParams, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<CompareResult> {
  const baseline: number[] = [];
  const candidate: number[] = [];
  const peak = { baseline: 0, candidate: 0 };
  const runSide = async (side: Side): Promise<Run> => {
    const run = await runMetric(params.metric, dirs[side], signal, side === 'candidate' ? params.memoryLimitBytes : undefined);
    if (run.ok) {
      (side === 'baseline' ? baseline : candidate).push(run.value);
      peak[side] = Math.max(peak[side], run.peakRssBytes);
      emit({ kind: 'run', side, index: (side === 'baseline' ? baseline : candidate).length - 1, value: run.value, wallMs: run.wallMs });
    }
    return run;
  };
  for (;;) {
    if (params.constantBaseline === undefined) {
      const run = await runSide('baseline');
      if (!run.ok) throw new UserError(`the baseline's ${run.detail}${FIX_METRIC}`);
    } else {
      baseline.splice(0, baseline.length, params.constantBaseline);
    }
    const run = await runSide('candidate');
    if (!run.ok) return { ok: false, outcome: run.outcome, detail: run.detail, baseline, candidate };
    const decision = judge(baseline, candidate, params.policy);
    if (decision.done) {
      return { ok: true, baseline, candidate, verdict: decision.verdict, comparison: decision.comparison, peakRssBytes: peak };
    }
  }
}



function exitText(result: ExecResult): string {
  return result.signal ? `was killed by ${result.signal}` : `exited with code ${result.exitCode}`;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
