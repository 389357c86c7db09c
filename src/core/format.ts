// How numbers and outcomes read, in the CLI and the editor alike (no imports: the extension's
// activation bundle uses it without pulling in the engine).
import type { Lesson } from './lessons';

/** A signed relative change: +12.34%. */
export function percent(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

/** A metric value: integers as they are, others to five significant digits. */
export function metricValue(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(5);
}

/** "kept +12.34% [+10.00%, +14.00%], p=0.001, n=5+5", or the outcome and the first line of its detail. */
export function describeOutcome(lesson: Pick<Lesson, 'outcome' | 'metric' | 'detail'>, options: { p?: boolean } = {}): string {
  const m = lesson.metric;
  if (m) {
    const p = options.p ? `, p=${m.p.toPrecision(2)}` : '';
    return `${lesson.outcome} ${percent(m.change)} [${percent(m.ci[0])}, ${percent(m.ci[1])}]${p}, n=${m.baseline.n}+${m.candidate.n}`;
  }
  return lesson.detail ? `${lesson.outcome}: ${lesson.detail.split('\n')[0]}` : lesson.outcome;
}
