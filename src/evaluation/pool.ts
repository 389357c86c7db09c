import { availableParallelism } from 'node:os';
import type { RsiConfig } from '../core/config';
import type { Evaluator } from '../core/evaluator';
import type { EvaluationOptions, EvaluationRequest, GateRequest, MeasureRequest, Overlay } from '../protocol/evaluation';
import { CancelledError } from '../protocol/errors';
import type { SandboxSpec } from '../protocol/runner';
import type { RunnerClient } from '../runner/client';
import { LocalEvaluator } from './local';

/** One slot of the pool: an evaluator of its own (a runner and its sandbox pair) that runs one request at a time. */
export interface PoolSlot extends Evaluator {
  /** Lay `base` into the slot's sandboxes; slot 0's takes the workspace's run lock, which the others run under. */
  prepare(base: Overlay, options?: Pick<EvaluationOptions, 'onProgress'>): Promise<void>;
}

export interface PoolOptions {
  /** Timing metrics side by side too (each then slows the other: their comparisons lose precision). */
  parallelTiming?: boolean;
}

interface Job {
  /** Runs alone: nothing beside it, nothing started while it runs. */
  alone: boolean;
  base: Overlay;
  options: EvaluationOptions;
  run(slot: PoolSlot): Promise<unknown>;
  resolve(result: unknown): void;
  reject(error: unknown): void;
  /** Takes it out of the queue when its signal aborts; removed once it starts, where the slot's own request listens. */
  onAbort(): void;
}

/**
 * Evaluation on this machine through several slots, each a runner with its own sandbox pair.
 * Gates and deterministic metrics run side by side, one request a slot; a timing metric runs alone,
 * since two timings on one machine contaminate each other (unless `parallelTiming`). Requests start
 * in the order they came, each on the lowest free slot: a run that needs one slot never starts
 * another. Before the first request of a cycle, slot 0 takes the workspace's run lock.
 */
export class PoolEvaluator implements Evaluator {
  private readonly queue: Job[] = [];
  private readonly busy: boolean[];
  private running = 0;
  private aloneRunning = false;
  /** Slot 0 holding the run lock, with a base laid: awaited before any request starts. */
  private locked: Promise<void> | undefined;
  /** Slots other than 0 that ran a request since the last release: only those have anything to release. */
  private readonly used = new Set<number>();

  constructor(
    private readonly slots: PoolSlot[],
    private readonly options: PoolOptions = {},
  ) {
    if (slots.length === 0) throw new Error('a pool needs at least one slot');
    this.busy = slots.map(() => false);
  }

  gate(request: GateRequest, options?: EvaluationOptions) {
    return this.submit(false, request.base, options, (slot) => slot.gate(request, options));
  }

  measure(request: MeasureRequest, options?: EvaluationOptions) {
    return this.submit(!request.sampling.deterministic, request.base, options, (slot) => slot.measure(request, options));
  }

  evaluate(request: EvaluationRequest, options?: EvaluationOptions) {
    return this.submit(!request.sampling.deterministic, request.base, options, (slot) => slot.evaluate(request, options));
  }

  /** Between cycles: each slot restarts a runner whose memory grew; slot 0's may have dropped the lock, so it is taken again. */
  async idle(): Promise<void> {
    this.locked = undefined;
    await Promise.all(this.slots.map((slot) => slot.idle?.()));
  }

  /** The other slots first, then slot 0, which drops the run lock they ran under. */
  async release(): Promise<void> {
    const others = [...this.used].map((index) => this.slots[index]!);
    this.used.clear();
    this.locked = undefined;
    const released = await Promise.allSettled(others.map((slot) => slot.release()));
    await this.slots[0]!.release();
    const failed = released.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private submit<T>(timing: boolean, base: Overlay, options: EvaluationOptions = {}, run: (slot: PoolSlot) => Promise<T>): Promise<T> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new CancelledError());
    return new Promise<T>((resolve, reject) => {
      // Cancelled while queued: it leaves the queue; once started, the slot's request is cancelled by the same signal.
      const onAbort = () => {
        const at = this.queue.indexOf(job);
        if (at < 0) return;
        this.queue.splice(at, 1);
        reject(new CancelledError());
        this.dispatch();
      };
      const job: Job = { alone: timing && !this.options.parallelTiming, base, options, run, resolve: resolve as (result: unknown) => void, reject, onAbort };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(job);
      this.dispatch();
    });
  }

  /** Start queued jobs in order while slots are free; a job that must run alone waits for the others to end. */
  private dispatch(): void {
    while (this.queue.length > 0 && !this.aloneRunning) {
      const job = this.queue[0]!;
      if (job.alone && this.running > 0) return;
      const index = this.busy.indexOf(false);
      if (index < 0) return;
      this.queue.shift();
      job.options.signal?.removeEventListener('abort', job.onAbort);
      this.busy[index] = true;
      this.running++;
      this.aloneRunning = job.alone;
      void this.start(index, job);
    }
  }

  private async start(index: number, job: Job): Promise<void> {
    if (index > 0) this.used.add(index);
    try {
      await this.lock(job);
      job.resolve(await job.run(this.slots[index]!));
    } catch (error) {
      job.reject(error);
    } finally {
      this.busy[index] = false;
      this.running--;
      if (job.alone) this.aloneRunning = false;
      this.dispatch();
    }
  }

  /**
   * Slot 0 takes the run lock before any slot runs, laying the first request's base (its log is that
   * request's); should it fail (the workspace is in use), every waiting request fails with it.
   */
  private lock(job: Job): Promise<void> {
    this.locked ??= this.slots[0]!.prepare(job.base, { onProgress: job.options.onProgress }).catch((error: unknown) => {
      this.locked = undefined;
      throw error;
    });
    return this.locked;
  }
}

/** The slots the config asks for: one a core when it names none. */
export function slotCount(evaluation: RsiConfig['evaluation']): number {
  return evaluation.slots ?? availableParallelism();
}

/**
 * The pool on this machine: a slot per runner (slot 0's holds the run lock), each with its own
 * sandbox pair. Slots that time side by side pin their pairs to CPUs of their own.
 */
export function localPool(runners: RunnerClient[], sandbox: SandboxSpec, options: PoolOptions = {}): PoolEvaluator {
  const share = (slot: number) => (options.parallelTiming && runners.length > 1 ? { slot, slots: runners.length } : undefined);
  return new PoolEvaluator(runners.map((runner, slot) => new LocalEvaluator(runner, slot === 0 ? sandbox : { ...sandbox, slot }, share(slot))), options);
}
