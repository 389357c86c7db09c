// How numbers and outcomes read, in the CLI and the editor alike (no imports: the extension's
// activation bundle uses it without pulling in the engine).
import type { Calibration } from './calibration';
import type { Lesson } from './lessons';

/** A signed relative change: +12.34%. */
export function percent(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

/** Bytes in MiB, one decimal: 91.5 MiB. */
export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** A metric value: integers as they are, others to five significant digits. */
export function metricValue(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(5);
}

const METHODS: Record<string, string> = {
  'paired-log': 'paired log ratios, anytime-valid mean and median sequences',
  'paired-relative': 'paired differences, anytime-valid mean and median sequences',
  exact: 'deterministic metric, one run a side',
};

/**
 * "kept: -6.1% CPU time (95% CI -10.3% to -1.4%), 28 runs a side", or the outcome and the first
 * line of its detail. With `p`: "; p=0.003, floor 0.86%, paired log ratios, ...".
 */
export function describeOutcome(lesson: Pick<Lesson, 'outcome' | 'metric' | 'detail'>, options: { p?: boolean } = {}): string {
  const m = lesson.metric;
  if (m) {
    const phases = m.phases && m.phases.length > 1 ? ` (${m.phases.join(' + ')})` : '';
    const details = [`p=${m.p.toPrecision(2)}`, m.floor !== undefined && `floor ${percent(m.floor).slice(1)}`, m.method && METHODS[m.method]].filter(Boolean);
    // A guard-failed candidate won on the metric: what failed is in its detail's first line.
    const guard = lesson.outcome === 'guard-failed' && lesson.detail ? `; but ${lesson.detail.split('\n')[0]}` : '';
    return `${lesson.outcome}: ${describeChange(m, m.name)}${phases}${options.p ? `; ${details.join(', ')}` : ''}${guard}`;
  }
  return lesson.detail ? `${lesson.outcome}: ${lesson.detail.split('\n')[0]}` : lesson.outcome;
}

/** One line per guard measured: "guard oos-sharpe held: -2.00% (95% CI -2.00% to -2.00%), 6 runs a side, tolerance 5.00%". */
export function describeGuards(lesson: Pick<Lesson, 'guards'>): string[] {
  return (lesson.guards ?? []).map((g) => `guard ${g.name} ${g.passed ? 'held' : 'worse beyond its tolerance'}: ${describeChange(g)}, tolerance ${percent(g.tolerance).slice(1)}`);
}

/** "-6.10% CPU time (95% CI -10.30% to -1.40%), 28 runs a side": a change with its interval and runs. */
export function describeChange(
  c: { change: number; ci: [number, number]; baseline: { n: number }; candidate: { n: number }; level?: number; method?: string },
  name?: string,
): string {
  const level = c.level === undefined ? '' : `${Math.round(c.level * 1000) / 10}% `;
  // Too few pairs for the sequence to exclude any change (a futility stop after 5 pairs): both ends
  // are open, -100% being the log ratio's -infinity.
  const open = isUnbounded(c.ci[1]) && (isUnbounded(c.ci[0]) || (c.method === 'paired-log' && c.ci[0] <= -1));
  const ci = c.method === 'exact' ? 'exact' : open ? `${level}CI not bounded yet` : `${level}CI ${bound(c.ci[0])} to ${bound(c.ci[1])}`;
  const runs = c.baseline.n === c.candidate.n ? `${c.baseline.n} runs a side` : `${c.baseline.n}+${c.candidate.n} runs`;
  return `${percent(c.change)}${name ? ` ${name}` : ''} (${ci}), ${runs}`;
}

/** An end of an interval; an unbounded one (stored as the largest double) reads as such. */
function isUnbounded(x: number): boolean {
  return Math.abs(x) >= 1e300;
}

function bound(x: number): string {
  return isUnbounded(x) ? (x > 0 ? 'unbounded' : '-unbounded') : percent(x);
}

/** "noise floor 0.86% (20 A/A pairs, median 201.3, load 0.40 on 2 cores; was 1.40% on 2026-12-01 09:12 at load 1.90)". */
export function describeCalibration(calibration: Calibration, previous?: Calibration): string {
  const floor = (c: Calibration) => (c.deterministic ? 'deterministic' : percent(c.floor).slice(1));
  const load = (c: Calibration) => c.conditions?.loadavg[0]?.toFixed(2) ?? '?';
  const what = calibration.deterministic ? 'deterministic metric: any change is real' : `noise floor ${floor(calibration)}`;
  const was = previous ? `; was ${floor(previous)} on ${previous.time.slice(0, 16).replace('T', ' ')} at load ${load(previous)}` : '; no earlier calibration';
  const sides = calibration.sidesDiffer
    ? `; the two sandboxes measured ${percent(calibration.sidesDiffer.change)} apart on identical files (95% CI ${bound(calibration.sidesDiffer.ci[0])} to ${bound(calibration.sidesDiffer.ci[1])}), which the floor covers`
    : '';
  return `${what} (${calibration.runs} A/A pairs${calibration.pinPairs ? ', each on one CPU' : ''}, median ${metricValue(calibration.spread.median)}, load ${load(calibration)} on ${calibration.conditions.cores} cores${was})${sides}`;
}

