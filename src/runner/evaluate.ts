/**
 * The evaluation port's requests, served on this machine's two sandboxes: each request lays its
 * own base and candidate into them (re-preparing only when the base changed), so it depends on no
 * earlier request.
 */
import { createHash } from 'node:crypto';
import { describeChange, percent } from '../core/format';
import { judgeGuard, type SamplingPolicy } from '../core/stats';
import type { EvaluationPhase, EvaluationRequest, EvaluationResult, GateRequest, GateResult, GuardResult, MeasureRequest, MeasureResult, Sampling, Target } from '../protocol/evaluation';
import type { CpuShare, ProgressEvent, SandboxSpec } from '../protocol/runner';
import { compare, type SideDirs } from './measure';
import { runGate } from './gate';
import type { Sandbox, SandboxPool } from './sandbox';

type Emit = (event: ProgressEvent) => void;

export class Sandboxes {
  private pool: SandboxPool | undefined;
  private dirs: SideDirs | undefined;
  /** The base the sandboxes hold, by content: a request with the same base reuses them. */
  private preparedKey: string | undefined;

  constructor(private readonly openPool: (spec: SandboxSpec) => Promise<SandboxPool>) {}

  /** Both sandboxes hold `target.base`; the candidate one holds `target.candidate` on top. */
  async hold(spec: SandboxSpec, target: Target, log?: (message: string) => void): Promise<SideDirs> {
    // Gone from the runner's own environment, so no command it starts can read them.
    for (const name of target.hiddenEnv ?? []) delete process.env[name];
    const pool = await this.openPool(spec);
    const key = baseKey(spec, target);
    if (pool !== this.pool || key !== this.preparedKey || !this.dirs) {
      this.pool = pool;
      this.preparedKey = undefined;
      const prepared = await pool.acquire(target.base);
      log?.(`sandboxes ready in ${Math.round(prepared.ms)} ms (${prepared.copied} files copied, ${prepared.deleted} removed)`);
      this.dirs = { baseline: prepared.a.dir, candidate: prepared.b.dir };
      this.candidate = prepared.b;
      this.preparedKey = key;
    } else {
      await pool.holdLock();
    }
    await this.candidate!.applyCandidate(target.candidate);
    return this.dirs;
  }

  private candidate: Sandbox | undefined;

  /** The sandboxes must be prepared again (they were released, or another workspace took the pool). */
  forget(): void {
    this.preparedKey = undefined;
    this.dirs = undefined;
  }
}

function baseKey(spec: SandboxSpec, { base, epoch = '' }: Target): string {
  const hash = createHash('sha256').update(spec.workspace).update('\0').update(spec.storageRoot).update('\0').update(epoch);
  for (const rel of Object.keys(base).sort()) hash.update('\0').update(rel).update('\0').update(base[rel] === null ? '\u0001' : `=${base[rel]}`);
  return hash.digest('hex');
}

function policy(sampling: Sampling, threshold: number): SamplingPolicy {
  const { minRuns, maxRuns, alpha, direction, deterministic } = sampling;
  return { minRuns, maxRuns, alpha, direction, deterministic, noiseFloor: threshold };
}

export async function gate(request: GateRequest, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<GateResult> {
  return runGate({ commands: request.commands, side: request.side, ...request.limits }, dirs[request.side], signal, emit);
}

export async function measure(request: MeasureRequest & { cpuShare?: CpuShare }, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<MeasureResult> {
  const result = await compare(
    { metric: request.metric, policy: policy(request.sampling, request.sampling.noiseFloor), memoryLimitBytes: request.memoryLimitBytes, extend: { baseline: [], candidate: [], pairs: request.pairs }, fixHint: request.fixHint, pinPairs: request.sampling.pinPairs, cpuShare: request.cpuShare },
    dirs,
    signal,
    emit,
  );
  if (!result.ok) return result;
  const { baseline, candidate, comparison, peakRssBytes } = result;
  return { ok: true, baseline, candidate, comparison, peakRssBytes };
}

/**
 * One candidate, whole: its gate, a sequential comparison, and a re-test of an apparent winner.
 * Below the noise floor a change cannot be told from noise; below the minimum effect it is not
 * worth keeping: the larger of the two is the bar.
 */
export async function evaluate(request: EvaluationRequest & { cpuShare?: CpuShare }, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<EvaluationResult> {
  const phase = (name: EvaluationPhase) => emit({ kind: 'phase', phase: name });
  phase('gate');
  const gated = await runGate({ commands: request.gate, side: 'candidate', ...request.limits }, dirs.candidate, signal, emit);
  if (!gated.ok) return { outcome: 'gate-failed', detail: `\`${gated.command}\` ${gated.reason}\n${gated.output}` };

  const { sampling } = request;
  const threshold = Math.max(sampling.noiseFloor, sampling.minEffect);
  const bar = policy(sampling, threshold);
  const compareOnce = (extend?: { baseline: number[]; candidate: number[]; pairs: number }) =>
    compare({ metric: request.metric, policy: bar, memoryLimitBytes: request.memoryLimitBytes, constantBaseline: request.constantBaseline, extend, pinPairs: sampling.pinPairs, cpuShare: request.cpuShare }, dirs, signal, emit);

  phase('measure');
  const first = await compareOnce();
  if (!first.ok) return { outcome: first.outcome, detail: first.detail };
  const pairs = first.baseline.length;
  const measured = (r: typeof first & { ok: true }, phases: number[]): EvaluationResult['measurement'] => ({
    comparison: r.comparison,
    runs: { baseline: r.baseline, candidate: r.candidate },
    phases,
    floor: threshold,
  });
  if (first.verdict === 'worse') return { outcome: 'regressed', measurement: measured(first, [pairs]) };
  if (first.verdict === 'same') {
    const what = sampling.minEffect > sampling.noiseFloor ? 'minimum effect' : 'noise floor';
    return { outcome: 'no-effect', measurement: measured(first, [pairs]), detail: `no change beyond the ${what} (${percent(threshold).slice(1)})` };
  }
  if (!request.confirm || sampling.deterministic) return guarded({ outcome: 'kept', measurement: measured(first, [pairs]) }, request, dirs, signal, emit);
  // An apparent winner must hold over as many fresh pairs again, judged on all its pairs: the
  // interval stays valid (it holds at every look), and the runs that made it look good are diluted
  // by runs that were not chosen for it, so a lucky streak fades instead of being kept.
  phase('confirm');
  const second = await compareOnce({ baseline: first.baseline, candidate: first.candidate, pairs });
  if (!second.ok) return { outcome: second.outcome, detail: `on the re-test: ${second.detail}` };
  const measurement = measured(second, [pairs, second.baseline.length - pairs]);
  const looked = `looked ${percent(first.comparison.change)} after ${pairs} pairs`;
  if (second.verdict === 'better') return guarded({ outcome: 'kept', measurement, detail: `held over ${pairs} fresh pairs (${looked})` }, request, dirs, signal, emit);
  if (second.verdict === 'worse') return { outcome: 'regressed', measurement, detail: `reversed over ${pairs} fresh pairs (${looked})` };
  return { outcome: 'no-effect', measurement, detail: `did not hold over ${pairs} fresh pairs (${looked})` };
}

/**
 * A candidate that passed the primary test, through its guards in order, on the same sandboxes and
 * with the same sampling: each guard's pairs are judged by `judgeGuard` (it fails only when its
 * interval lies wholly beyond its tolerance). The first guard that fails makes the outcome
 * `guard-failed`; one whose run fails makes it the run's outcome (crashed, timeout), said as the
 * guard's. Either way the guards after it are not measured.
 */
async function guarded(kept: EvaluationResult, request: EvaluationRequest & { cpuShare?: CpuShare }, dirs: SideDirs, signal: AbortSignal, emit: Emit): Promise<EvaluationResult> {
  if (!request.guards?.length) return kept;
  const { minRuns, maxRuns, alpha, pinPairs } = request.sampling;
  const guards: GuardResult[] = [];
  for (const guard of request.guards) {
    emit({ kind: 'phase', phase: 'guard' });
    const { name, direction, tolerance } = guard;
    const measured = await compare(
      {
        metric: guard.metric,
        policy: { minRuns, maxRuns, alpha, direction, noiseFloor: 0 },
        decide: (baseline, candidate) => judgeGuard(baseline, candidate, { minRuns, maxRuns, alpha, direction, tolerance }),
        fixHint: `\n(guard "${name}" must work on the unmodified workspace: check its command and read in the guards of .rsi/config.json)`,
        pinPairs,
        cpuShare: request.cpuShare,
      },
      dirs,
      signal,
      emit,
    );
    if (!measured.ok) return { outcome: measured.outcome, detail: `guard "${name}": ${measured.detail}`, guards };
    const passed = measured.verdict !== 'worse';
    guards.push({ name, direction, tolerance, passed, comparison: measured.comparison, runs: { baseline: measured.baseline, candidate: measured.candidate } });
    if (!passed) {
      const detail = `guard "${name}" worse beyond its ${percent(tolerance).slice(1)} tolerance: ${describeChange(measured.comparison, name)}`;
      return { outcome: 'guard-failed', measurement: kept.measurement, detail, guards };
    }
  }
  return { ...kept, guards };
}
