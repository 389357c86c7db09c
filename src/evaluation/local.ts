import type { Evaluator } from '../core/evaluator';
import type { EvaluationOptions, EvaluationPhase, EvaluationProgress, Overlay } from '../protocol/evaluation';
import type { CpuShare, ProgressEvent, RunnerMethods, SandboxSpec } from '../protocol/runner';
import type { RunnerClient } from '../runner/client';

/**
 * Evaluation on this machine, through one runner and its two sandboxes: one request at a time (a
 * second comparison beside the first would contaminate both timings), the others wait their turn.
 */
export class LocalEvaluator implements Evaluator {
  private turn: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly runner: RunnerClient,
    private readonly sandbox: SandboxSpec,
    /** This slot's share of the CPUs, in a pool whose slots time side by side. */
    private readonly cpuShare?: CpuShare,
  ) {}

  gate(request: Omit<RunnerMethods['gate']['params'], 'sandbox'>, options?: EvaluationOptions) {
    return this.send('gate', { ...request, sandbox: this.sandbox }, options);
  }

  measure(request: Omit<RunnerMethods['measure']['params'], 'sandbox'>, options?: EvaluationOptions) {
    return this.send('measure', { ...request, sandbox: this.sandbox, cpuShare: this.cpuShare }, options);
  }

  evaluate(request: Omit<RunnerMethods['evaluate']['params'], 'sandbox'>, options?: EvaluationOptions) {
    return this.send('evaluate', { ...request, sandbox: this.sandbox, cpuShare: this.cpuShare }, options);
  }

  /** Lay `base` into the sandboxes ahead of the requests, taking the workspace's run lock (slot 0). */
  async prepare(base: Overlay, options: Pick<EvaluationOptions, 'onProgress'> = {}): Promise<void> {
    await this.queued(() => this.runner.request('prepare', { sandbox: this.sandbox, base }, { onEvent: progressOf(options.onProgress) }));
  }

  /** Between cycles: restart a runner whose memory grew, so that a leak never piles up. */
  async idle(): Promise<void> {
    await this.queued(() => this.runner.recycleIfGrown());
  }

  async release(): Promise<void> {
    await this.queued(() => this.runner.request('release', {}));
  }

  private send<M extends 'gate' | 'measure' | 'evaluate'>(method: M, params: RunnerMethods[M]['params'], options: EvaluationOptions = {}): Promise<RunnerMethods[M]['result']> {
    return this.queued(() => this.runner.request(method, params, { signal: options.signal, onEvent: progressOf(options.onProgress) }));
  }

  private queued<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work, work);
    this.turn = run.catch(() => undefined);
    return run;
  }
}

/** The runner's events as the port's progress: the phase, and the runs made in it on each side. */
export function progressOf(onProgress?: (event: EvaluationProgress) => void): ((event: ProgressEvent) => void) | undefined {
  if (!onProgress) return undefined;
  let phase: EvaluationPhase = 'measure';
  let runs = { baseline: 0, candidate: 0 };
  return (event) => {
    if (event.kind === 'log') onProgress(event);
    else if (event.kind === 'phase') {
      phase = event.phase;
      runs = { baseline: 0, candidate: 0 };
      onProgress({ kind: 'phase', phase, runs: { ...runs } });
    } else if (event.kind === 'run') {
      runs[event.side]++;
      onProgress({ kind: 'phase', phase, runs: { ...runs } });
    }
  };
}

