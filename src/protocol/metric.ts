/** What both the engine and whoever runs the workspace's commands (a runner, a worker) need to agree on. */

/** How the metric's number is read from a run. */
export type MetricReader = 'wallTime' | 'cpuTime' | { regex: string } | { json: string };

export interface CommandLimits {
  timeoutMs: number;
  outputBytes: number;
}

export interface MetricSpec extends CommandLimits {
  command: string;
  read: MetricReader;
}

/** The two sandboxes of a comparison: the baseline, and the candidate (the baseline plus a change). */
export type Side = 'baseline' | 'candidate';
