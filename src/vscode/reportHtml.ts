import type { Direction, Lesson, LessonLog } from '../core/lessons';
import { metricValue, percent } from '../core/format';
import { relativeTime } from './relativeTime';
import { CHANGE_GROUPS, groupLessons } from './lessonGroups';

/** One cycle on the chart: its baseline's median and the candidates kept in it. */
export interface CyclePoint {
  cycle: number;
  baseline: number;
  /** `value` is the baseline shifted by the measured change; low/high bound its interval. */
  kept: Array<{ value: number; low: number; high: number; hypothesis: string }>;
}

export interface MetricHistory {
  metric: string;
  direction: Direction;
  points: CyclePoint[];
}

/** The metric across cycles, from the lessons that measured it (the latest metric name only). */
export function metricHistory(lessons: Lesson[]): MetricHistory | undefined {
  const measured = lessons.filter((lesson) => lesson.metric);
  const latest = measured.at(-1)?.metric;
  if (!latest) return undefined;
  const byCycle = new Map<number, CyclePoint>();
  for (const lesson of measured) {
    const m = lesson.metric!;
    if (m.name !== latest.name) continue;
    const point = byCycle.get(lesson.cycle) ?? { cycle: lesson.cycle, baseline: m.baseline.median, kept: [] };
    byCycle.set(lesson.cycle, point);
    if (lesson.outcome !== 'kept') continue;
    // The change and its interval are relative to the baseline: (candidate - baseline) / |baseline|.
    const at = (relative: number) => m.baseline.median + relative * Math.abs(m.baseline.median);
    point.kept.push({ value: at(m.change), low: at(m.ci[0]), high: at(m.ci[1]), hypothesis: lesson.hypothesis });
  }
  return { metric: latest.name, direction: latest.direction, points: [...byCycle.values()].sort((a, b) => a.cycle - b.cycle) };
}

/** The chart's own coordinates: the page scales it to its width. */
const WIDTH = 640;
const HEIGHT = 260;
/** Kept marks sit this far right of their cycle's baseline dot, so that neither hides the other. */
const KEPT_OFFSET = 7;
const PAD = { left: 64, right: 16, top: 16, bottom: 44 };

/**
 * An SVG line chart: baseline medians joined by a line, kept values as dots with interval whiskers
 * beside them (a kept value equal to its baseline would otherwise cover the baseline's dot).
 */
export function historyChart({ metric, points }: MetricHistory): string {
  const values = points.flatMap((p) => [p.baseline, ...p.kept.flatMap((k) => [k.value, k.low, k.high])]);
  const ticks = niceTicks(...paddedRange(values));
  const [yMin, yMax] = [ticks[0], ticks[ticks.length - 1]];
  const [first, last] = [points[0].cycle, points[points.length - 1].cycle];
  const plotWidth = WIDTH - PAD.left - PAD.right;
  const x = (cycle: number) => PAD.left + (first === last ? plotWidth / 2 : ((cycle - first) / (last - first)) * plotWidth);
  const y = (value: number) => PAD.top + ((yMax - value) / (yMax - yMin)) * (HEIGHT - PAD.top - PAD.bottom);
  const bottom = HEIGHT - PAD.bottom;

  const grid = ticks.map((t) =>
    `<line class="grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(t)}" y2="${y(t)}"/>` +
    `<text class="tick" x="${PAD.left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`);
  const every = Math.ceil(points.length / 12); // at most a dozen cycle labels
  const cycleLabels = points.filter((_, i) => i % every === 0).map((p) =>
    `<text class="tick" x="${x(p.cycle)}" y="${bottom + 16}" text-anchor="middle">${p.cycle}</text>`);
  const baselineLine = `<polyline class="baseline" points="${points.map((p) => `${x(p.cycle)},${y(p.baseline)}`).join(' ')}"/>`;
  const baselineDots = points.map((p) =>
    `<circle class="baseline-dot" cx="${x(p.cycle)}" cy="${y(p.baseline)}" r="3"><title>cycle ${p.cycle}: baseline ${metricValue(p.baseline)}</title></circle>`);
  const kept = points.flatMap((p) => p.kept.map((k, i) => {
    const cx = x(p.cycle) + KEPT_OFFSET * (i + 1);
    const title = `cycle ${p.cycle}: kept ${metricValue(k.value)} [${metricValue(k.low)}, ${metricValue(k.high)}], ${escapeHtml(k.hypothesis)}`;
    return `<line class="interval" x1="${cx}" x2="${cx}" y1="${y(k.low)}" y2="${y(k.high)}"/>` +
      `<line class="interval" x1="${cx - 4}" x2="${cx + 4}" y1="${y(k.low)}" y2="${y(k.low)}"/>` +
      `<line class="interval" x1="${cx - 4}" x2="${cx + 4}" y1="${y(k.high)}" y2="${y(k.high)}"/>` +
      `<circle class="kept" cx="${cx}" cy="${y(k.value)}" r="4"><title>${title}</title></circle>`;
  }));
  const legend = `<g class="legend" transform="translate(${PAD.left}, ${HEIGHT - 8})">` +
    `<circle class="baseline-dot" cx="0" cy="-4" r="3"/><text x="8" y="0">baseline median</text>` +
    `<circle class="kept" cx="130" cy="-4" r="4"/><text x="138" y="0">kept, with its interval</text>` +
    `<text x="${plotWidth}" y="0" text-anchor="end">cycle</text></g>`;
  return `<svg viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${escapeHtml(metric)} across cycles">` +
    [...grid, ...cycleLabels, baselineLine, ...kept, ...baselineDots, legend].join('') + '</svg>';
}

/** The whole report page: no script, styles under a nonce, colours from the theme's variables. */
export function reportHtml({ folderName, log, nonce, now = Date.now() }: { folderName: string; log: LessonLog; nonce: string; now?: number }): string {
  const history = metricHistory(log.lessons);
  const groups = groupLessons(log);
  const keptLessons = groups
    .filter((g) => CHANGE_GROUPS.has(g.id))
    .flatMap((g) => g.lessons.map((lesson) => ({ lesson, group: g.label })));
  const cycles = new Set(log.lessons.map((l) => l.cycle)).size;

  const chartSection = history
    ? `<p>${escapeHtml(history.metric)} (${history.direction}) over ${cycles} cycle${cycles === 1 ? '' : 's'}, ${log.lessons.length} lessons.</p>${historyChart(history)}`
    : '<p>No measured lessons yet: run a cycle (RSI: Run Cycle).</p>';
  const outcomes = table([{ title: 'outcome' }, { title: 'lessons', num: true }], groups.map((g) => [escapeHtml(g.label), String(g.lessons.length)]));
  // A guards column only where guards were measured: each guard's change and interval.
  const guarded = log.lessons.some((l) => l.guards?.length);
  const guardCell = (lesson: Lesson) => escapeHtml((lesson.guards ?? []).map((g) => `${g.name} ${percent(g.change)} ${interval(g.ci)}${g.passed ? '' : ` beyond its ${percent(g.tolerance).slice(1)} tolerance`}`).join('; '));
  const keptColumns = [{ title: 'cycle', num: true }, { title: 'hypothesis' }, { title: 'change', num: true }, { title: 'interval' }, ...(guarded ? [{ title: 'guards' }] : []), { title: 'status' }, { title: 'when' }];
  const keptRows = keptLessons.map(({ lesson, group }) => {
    const m = lesson.metric;
    const evidence = m ? [percent(m.change), interval(m.ci)] : ['', ''];
    return [String(lesson.cycle), escapeHtml(lesson.hypothesis), ...evidence, ...(guarded ? [guardCell(lesson)] : []), escapeHtml(group), relativeTime(lesson.time, now)];
  });
  // Better on the metric, stopped by a guard: what the guards saved the code from.
  const stopped = groups.find((g) => g.id === 'guard-failed')?.lessons ?? [];
  const stoppedColumns = [{ title: 'cycle', num: true }, { title: 'hypothesis' }, { title: 'change', num: true }, { title: 'guards' }, { title: 'when' }];
  const stoppedRows = stopped.map((lesson) => [String(lesson.cycle), escapeHtml(lesson.hypothesis), lesson.metric ? percent(lesson.metric.change) : '', guardCell(lesson), relativeTime(lesson.time, now)]);

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>RSI Report</title>
<style nonce="${nonce}">${STYLE}</style>
</head>
<body>
<h1>RSI Loop: ${escapeHtml(folderName)}</h1>
<h2>Metric history</h2>
${chartSection}
<h2>Outcomes</h2>
${groups.length > 0 ? outcomes : '<p>No lessons yet.</p>'}
${keptRows.length > 0 ? `<h2>Kept changes</h2>${table(keptColumns, keptRows)}` : ''}
${stoppedRows.length > 0 ? `<h2>Better, but a guard got worse</h2>${table(stoppedColumns, stoppedRows)}` : ''}
</body>
</html>`;
}

const STYLE = `
body { color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); padding: 0 20px 20px; }
h1 { font-size: 1.4em; font-weight: 600; }
h2 { font-size: 1.1em; font-weight: 600; margin-top: 1.6em; }
svg { width: 100%; height: auto; max-height: 70vh; font-family: var(--vscode-font-family); }
.grid { stroke: var(--vscode-editorWidget-border, var(--vscode-panel-border)); stroke-width: 1; opacity: 0.6; }
.tick, .legend text { fill: var(--vscode-descriptionForeground); font-size: 11px; }
.baseline { fill: none; stroke: var(--vscode-charts-blue); stroke-width: 2; }
.baseline-dot { fill: var(--vscode-charts-blue); }
.interval { stroke: var(--vscode-charts-green); stroke-width: 2; }
.kept { fill: var(--vscode-charts-green); stroke: var(--vscode-editor-background); stroke-width: 1; }
table { border-collapse: collapse; }
th { color: var(--vscode-descriptionForeground); font-weight: normal; text-align: left; }
td, th { padding: 2px 16px 2px 0; vertical-align: top; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
`;

/** A table of already escaped cells; `num` columns are right-aligned. */
function table(columns: Array<{ title: string; num?: boolean }>, rows: string[][]): string {
  const cell = (tag: 'th' | 'td', html: string, num?: boolean) => `<${tag}${num ? ' class="num"' : ''}>${html}</${tag}>`;
  const row = (cells: string[], tag: 'th' | 'td') => `<tr>${cells.map((html, i) => cell(tag, html, columns[i].num)).join('')}</tr>`;
  return `<table>${row(columns.map((c) => c.title), 'th')}${rows.map((r) => row(r, 'td')).join('')}</table>`;
}

function interval(ci: [number, number]): string {
  return `[${percent(ci[0])}, ${percent(ci[1])}]`;
}

/** The values' range with a margin, never empty (a flat line still needs a scale). */
function paddedRange(values: number[]): [number, number] {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  if (lo === hi) {
    const margin = Math.max(Math.abs(lo) * 0.1, 1);
    return [lo - margin, hi + margin];
  }
  const margin = (hi - lo) * 0.08;
  return [lo - margin, hi + margin];
}

/** About five round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number): number[] {
  const rough = (hi - lo) / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  // Multiples of the step from the one at or below lo to the first at or above hi.
  for (let i = Math.floor(lo / step); ; i++) {
    ticks.push(round(i * step));
    if (i * step >= hi) return ticks;
  }
}

/** Removes float noise of tick arithmetic (0.30000000000000004). */
function round(x: number): number {
  return Number(x.toPrecision(12));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
