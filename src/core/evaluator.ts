import type { EvaluationOptions, EvaluationRequest, EvaluationResult, GateRequest, GateResult, MeasureRequest, MeasureResult } from '../protocol/evaluation';

/**
 * Where the cycle's candidates are run: the port between the loop and the machines. The cycle may
 * ask for several evaluations at once; an implementation runs as many together as it can do
 * honestly (one runner: one at a time; a pool: its slots; a queue: its workers) and queues the rest.
 */
export interface Evaluator {
  gate(request: GateRequest, options?: EvaluationOptions): Promise<GateResult>;
  measure(request: MeasureRequest, options?: EvaluationOptions): Promise<MeasureResult>;
  evaluate(request: EvaluationRequest, options?: EvaluationOptions): Promise<EvaluationResult>;
  /** Between cycles, when nothing is in flight: a chance to tidy (a runner whose memory grew is restarted). */
  idle?(): Promise<void>;
  /** Between runs: let go of sandboxes and locks (the evaluator may be used again). */
  release(): Promise<void>;
}
