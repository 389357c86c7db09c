// How numbers, lessons and times read in the editor. The CLI's pct/fmt live in core/cycle.ts,
// which the extension bundle must not import: it would pull the whole engine into activation.
import type { Lesson } from '../core/lessons';

/** A signed relative change, as the CLI prints it: +12.34%. */
export function percent(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

/** A metric value: integers as they are, others to five significant digits. */
export function metricValue(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(5);
}

/** "kept +12.34% [+10.00%, +14.00%], n=5+5", or the outcome and the first line of its detail. */
export function describeOutcome(lesson: Lesson): string {
  const m = lesson.metric;
  if (m) return `${lesson.outcome} ${percent(m.change)} [${percent(m.ci[0])}, ${percent(m.ci[1])}], n=${m.baseline.n}+${m.candidate.n}`;
  return lesson.detail ? `${lesson.outcome}: ${lesson.detail.split('\n')[0]}` : lesson.outcome;
}

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 86400],
  ['month', 30 * 86400],
  ['week', 7 * 86400],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

// Made on first use: building it loads ICU data, tens of milliseconds that activation must not pay.
let relative: Intl.RelativeTimeFormat | undefined;

/** "5 minutes ago", "yesterday": the largest unit that fits. */
export function relativeTime(isoTime: string, now = Date.now()): string {
  relative ??= new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  const seconds = (Date.parse(isoTime) - now) / 1000;
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(Math.round(seconds), 'second');
}
