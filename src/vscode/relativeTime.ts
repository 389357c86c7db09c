// "5 minutes ago", "yesterday": how the lessons tree and the report say when.
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
