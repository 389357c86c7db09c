/**
 * Messages between the engine (RunnerClient) and the runner process, over Node's IPC channel.
 * Every request carries an id; the runner answers it once, may send progress events for it
 * before that, and stops its work when it receives a cancel for the same id.
 */
import type { EvaluationPhase, EvaluationRequest, EvaluationResult, GateRequest, GateResult, MeasureRequest, MeasureResult, Overlay } from './evaluation';
import type { WireError } from './errors';
import type { MetricSpec, Side } from './metric';

/** Which workspace the runner's sandboxes copy, and where they live. */
export interface SandboxSpec {
  workspace: string;
  /** Where sandboxes live: outside the workspace (temp dir, or the extension's storage). */
  storageRoot: string;
  /**
   * Which of a pool's sandbox pairs (absent: 0). Slot 0's runner holds the workspace's run lock;
   * the runner of another slot never takes it and refuses to run unless slot 0 of its own run holds it.
   */
  slot?: number;
}

/**
 * A pool slot's place among slots that time side by side (`evaluation.parallelTiming`): its pinned
 * pairs take only its share of the CPUs (`sampling.pinPairs`), so two slots never share one.
 */
export interface CpuShare {
  slot: number;
  slots: number;
}

export interface HistoryParams {
  workspace: string;
  /** The sandboxes' storage root: the index is cached in the workspace's folder there. */
  storageRoot: string;
  /** How many commits of HEAD's first-parent line to read. */
  commits: number;
  /** Only these workspace-relative files; every file the commits touched when absent. */
  paths?: string[];
}
/** What git says about one workspace-relative file, over the commits read. */
export interface FileHistory {
  path: string;
  /** Commits that changed it. */
  churn: number;
  /** Of those, commits whose message says fix, bug, revert or hotfix. */
  fixes: number;
  lastChangedDays: number;
  /** Days since the oldest commit read that changed it. */
  firstSeenDays: number;
}
export interface HistoryResult {
  /** Files the commits read changed (empty without git). */
  files: FileHistory[];
  /** Commits read: 0 without git; fewer than asked when the history is shorter. */
  commits: number;
  /** Commits diffed by this request; the others came from the cache. */
  indexedNow: number;
  ms: number;
}

export interface ProfileParams extends SandboxSpec {
  /** The baseline to profile: the workspace with these files laid over it. */
  base: Overlay;
  hiddenEnv?: string[];
  metric: MetricSpec;
  /** Identifies the baseline's content: a profile cached under the same key is returned without a run. */
  key: string;
}
/** Self time of one function, summed over the processes of the run. */
export interface ProfiledFunction {
  name: string;
  /** Workspace-relative for the workspace's files; Node's own (`node:internal/...`) or another path otherwise; '' for V8's entries such as (garbage collector). */
  file: string;
  /** 1-based line where the function starts; 0 when unknown. */
  line: number;
  selfMs: number;
  /** Self time by 1-based line, hottest first. */
  lines: [line: number, ms: number][];
}
export type ProfileResult =
  | {
      ok: true;
      /** Sampled time that was not idle, over all processes. */
      busyMs: number;
      /** The Node processes (and worker threads) profiled, busiest first: main script and busy time. */
      processes: { script: string; busyMs: number }[];
      /** Wall time of the profiled run. */
      wallMs: number;
      /** Hottest first. */
      functions: ProfiledFunction[];
      cached: boolean;
    }
  /** Why there is no profile, in a sentence (not Node, the run failed): the context says so and goes on. */
  | { ok: false; reason: string; cached: boolean };

export interface RunnerMethods {
  ping: { params: Record<string, never>; result: { pid: number; rssBytes: number; uptimeMs: number } };
  /** Take the workspace's sandboxes (and its run lock) and lay this base into them. */
  prepare: { params: { sandbox: SandboxSpec; base: Overlay }; result: { ms: number } };
  gate: { params: GateRequest & { sandbox: SandboxSpec }; result: GateResult };
  measure: { params: MeasureRequest & { sandbox: SandboxSpec; cpuShare?: CpuShare }; result: MeasureResult };
  evaluate: { params: EvaluationRequest & { sandbox: SandboxSpec; cpuShare?: CpuShare }; result: EvaluationResult };
  /** Git history insight: churn, age and fix/revert frequency per file. */
  history: { params: HistoryParams; result: HistoryResult };
  /** One baseline run under a CPU profiler (Node only), summarized; cached per `key`. */
  profile: { params: ProfileParams; result: ProfileResult };
  /** Release the sandboxes' lock (the runner may live on for the next cycle). */
  release: { params: Record<string, never>; result: Record<string, never> };
}
export type Method = keyof RunnerMethods;

export type ProgressEvent =
  | { kind: 'phase'; phase: EvaluationPhase }
  | { kind: 'run'; side: Side; index: number; value?: number; wallMs: number }
  | { kind: 'gate'; side: Side; command: string }
  /** `debug`: housekeeping, for a log rather than a user's terminal. */
  | { kind: 'log'; message: string; debug?: boolean };

export type ToRunner =
  | { type: 'request'; id: number; method: Method; params: unknown }
  | { type: 'cancel'; id: number };

export type FromRunner =
  | { type: 'response'; id: number; result: unknown }
  | { type: 'response'; id: number; error: WireError }
  | { type: 'event'; id: number; event: ProgressEvent }
  | { type: 'ready'; pid: number; rssBytes: number };

export { CancelledError } from './errors';

/** What asks the runner: its client, or anything that stands in for it in a test. */
export interface RunnerRequests {
  request<M extends Method>(method: M, params: RunnerMethods[M]['params'], options?: { signal?: AbortSignal; onEvent?: (event: ProgressEvent) => void }): Promise<RunnerMethods[M]['result']>;
}
