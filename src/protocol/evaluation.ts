/**
 * The evaluation port's messages: what the engine asks of whoever runs a workspace's commands (a
 * runner on this machine, a pool of them, a worker across a queue), and what comes back. Every
 * request names the whole state it is about, so no request depends on an earlier one: an
 * implementation may cache what it prepared, never require it.
 */
import type { Comparison, Direction } from '../core/stats';
import type { CommandLimits, MetricSpec, Side } from './metric';

/** Files that differ from the workspace on disk, by workspace-relative path (null: deleted). */
export type Overlay = Record<string, string | null>;

/** Two sides to run: the baseline (the workspace with `base` laid over it) and the candidate (the baseline with `candidate` laid over it). */
export interface Target {
  base: Overlay;
  /** Empty: the candidate side holds the baseline too (an A/A measurement). */
  candidate: Overlay;
  /** Environment variables no command may see (the proposer's API key: a candidate could print it). */
  hiddenEnv?: string[];
  /**
   * Requests of one epoch (a cycle) see the workspace's other files as the epoch's first request
   * found them; a new epoch reads them again (the user may have edited the benchmark meanwhile).
   */
  epoch?: string;
}

export interface GateRequest extends Target {
  side: Side;
  commands: string[];
  limits: CommandLimits;
}
export type GateResult = { ok: true; ms: number } | { ok: false; command: string; reason: string; output: string; ms: number };

/** How a decision samples and what it must beat. */
export interface Sampling {
  minRuns: number;
  maxRuns: number;
  alpha: number;
  direction: Direction;
  /** Proven deterministic: one run a side decides, and the change is exact. */
  deterministic: boolean;
  /** The relative change the noise alone reaches; a worker measuring on another machine uses its own. */
  noiseFloor: number;
  /** The smallest relative change worth keeping, whatever the noise. */
  minEffect: number;
  /** Both runs of each pair on one CPU (`sampling.pinPairs`); absent from an engine that predates it: false. */
  pinPairs?: boolean;
}

/** Exactly `pairs` interleaved pairs, no decision: A/A runs, a head-to-head, the run's accumulated change. */
export interface MeasureRequest extends Target {
  metric: MetricSpec;
  pairs: number;
  sampling: Sampling;
  memoryLimitBytes?: number;
  /** What to fix when the baseline's run fails, when it is not the metric (a guard's command). */
  fixHint?: string;
}
export type MeasureResult =
  | { ok: true; baseline: number[]; candidate: number[]; comparison: Comparison; peakRssBytes: { baseline: number; candidate: number }; worker?: string }
  /** A run failed: its outcome and why. */
  | { ok: false; outcome: 'crashed' | 'timeout' | 'memory-exceeded'; detail: string; baseline: number[]; candidate: number[]; worker?: string };

/** One candidate, whole: its gate, then a sequential comparison, then (if it looks better and `confirm`) a re-test on fresh pairs. */
export interface EvaluationRequest extends Target {
  gate: string[];
  limits: CommandLimits;
  metric: MetricSpec;
  sampling: Sampling;
  confirm: boolean;
  /** Kill a candidate run whose process tree's peak RSS exceeds this. */
  memoryLimitBytes?: number;
  /** A deterministic baseline's value: the baseline side need not run again. */
  constantBaseline?: number;
  /** Secondary metrics a candidate that passes the primary test must not worsen beyond their tolerance. */
  guards?: GuardSpec[];
}

/** A secondary metric that must not get worse: measured for a candidate that passed the primary test, with the same sampling. */
export interface GuardSpec {
  name: string;
  metric: MetricSpec;
  direction: Direction;
  /** Relative loss accepted: the guard fails only when its interval lies wholly beyond it. */
  tolerance: number;
}

/** A guard's measurement: its comparison on the pairs and whether it held. */
export interface GuardResult {
  name: string;
  direction: Direction;
  tolerance: number;
  /** False when the whole interval lies beyond the tolerance on the losing side. */
  passed: boolean;
  comparison: Comparison;
  runs: { baseline: number[]; candidate: number[] };
}

export type EvaluationOutcome = 'kept' | 'regressed' | 'no-effect' | 'gate-failed' | 'guard-failed' | 'crashed' | 'timeout' | 'memory-exceeded';

/** What a candidate is doing: its gate, its comparison, the re-test, its guards. */
export type EvaluationPhase = 'gate' | 'measure' | 'confirm' | 'guard';

export interface EvaluationResult {
  outcome: EvaluationOutcome;
  detail?: string;
  /** Absent when no comparison was made (the gate failed, a run crashed). */
  measurement?: {
    comparison: Comparison;
    /** Every run of the decision, both phases. */
    runs: { baseline: number[]; candidate: number[] };
    /** Pairs per phase: [first] or [first, re-test]. */
    phases: number[];
    /** The threshold the change had to clear: max(noise floor, minimum effect). */
    floor: number;
  };
  /** The guards measured, in order, passed or not (none when the candidate did not pass the primary test). */
  guards?: GuardResult[];
  /** Which worker measured it, when the evaluator has several machines. */
  worker?: string;
}

/** A candidate's progress, for the editor's and the CLI's progress lines. */
export type EvaluationProgress =
  | { kind: 'phase'; phase: EvaluationPhase; runs: Record<Side, number>; worker?: string }
  /** `debug`: housekeeping, for a log rather than a user's terminal. */
  | { kind: 'log'; message: string; debug?: boolean };

export interface EvaluationOptions {
  signal?: AbortSignal;
  onProgress?: (event: EvaluationProgress) => void;
}
