/**
 * TEMPORARY: the shape of the Evaluator port as announced, until src/core/evaluator.ts and
 * src/protocol/evaluation.ts land in main; then this file goes and the imports point there.
 */
export type Overlay = Record<string, string | null>;
export interface Target {
  base: Overlay;
  candidate: Overlay;
}
export interface Sampling {
  minRuns: number;
  maxRuns: number;
  alpha: number;
  direction: 'minimize' | 'maximize';
  deterministic: boolean;
  noiseFloor: number;
  minEffect: number;
}
export interface GateRequest extends Target {
  gate: string[];
  limits: { timeoutMs: number; outputBytes: number };
}
export type GateResult = { ok: true; ms: number } | { ok: false; command: string; reason: string; output: string; ms: number };
export interface MeasureRequest extends Target {
  metric: { command: string };
  limits: { timeoutMs: number; outputBytes: number };
  pairs: number;
}
export interface MeasureResult {
  baseline: number[];
  candidate: number[];
}
export interface EvaluationRequest extends Target {
  gate: string[];
  limits: { timeoutMs: number; outputBytes: number };
  metric: { command: string };
  sampling: Sampling;
  confirm: boolean;
  memoryLimitBytes?: number;
  constantBaseline?: number;
}
export interface EvaluationResult {
  outcome: string;
  worker?: string;
  [more: string]: unknown;
}
export type EvaluationProgress =
  | { kind: 'phase'; phase: string; runs: { baseline: number; candidate: number }; worker?: string }
  | { kind: 'log'; message: string };
export interface EvaluationOptions {
  signal?: AbortSignal;
  onProgress?: (event: EvaluationProgress) => void;
}
export interface Evaluator {
  gate(request: GateRequest, options?: EvaluationOptions): Promise<GateResult>;
  measure(request: MeasureRequest, options?: EvaluationOptions): Promise<MeasureResult>;
  evaluate(request: EvaluationRequest, options?: EvaluationOptions): Promise<EvaluationResult>;
  release(): Promise<void>;
}
