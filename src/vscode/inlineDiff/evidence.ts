// What a pending proposal says of itself, as text: the whole proposal's measured change, each
// hunk's sources, its ghost text and hover. No vscode import: unit tests read these strings.
import { metricValue, percent } from '../../core/format';
import type { Lesson, LessonMetric } from '../../core/lessons';
import type { Hunk } from './hunks';

/** A hover shows at most this many lines of a hunk; Open Diff shows the rest. */
const HOVER_MAX_LINES = 40;
/** Ghost text longer than this is cut; the hover shows the whole hunk. */
const GHOST_MAX_CHARS = 100;

/** "+12.4% [+8.1%, +15.0%], n=12+12": the change, its confidence interval and the runs per side. */
export function formatEvidence(metric: LessonMetric): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}%`;
  return `${pct(metric.change)} [${pct(metric.ci[0])}, ${pct(metric.ci[1])}], n=${metric.baseline.n}+${metric.candidate.n}`;
}

/**
 * The change from a first baseline to the last of a chain of winners, each measured against the
 * one before it (a run of several cycles): the end compared with the start.
 */
export function overallChange(firstBaseline: number, last: LessonMetric): number {
  return firstBaseline === 0 ? last.change : (last.candidate.median - firstBaseline) / Math.abs(firstBaseline);
}

/**
 * The top lens: what the whole proposal measured. One winner was measured as a whole, with its
 * interval; several were measured one after the other, so the start and the end are compared.
 */
export function proposalHeadline(winners: Lesson[]): string | undefined {
  const measured = winners.flatMap((l) => (l.metric ? [l.metric] : []));
  const [first, last] = [measured[0], measured[measured.length - 1]];
  if (!first || !last) return undefined;
  if (measured.length === 1) return `Whole proposal: ${first.name} ${formatEvidence(first)}`;
  const start = first.baseline.median;
  return (
    `Whole proposal: ${first.name} ${metricValue(start)} → ${metricValue(last.candidate.median)} ` +
    `(${percent(overallChange(start, last))}), ${measured.length} kept changes measured one after the other`
  );
}

export interface HunkEvidence {
  lessons: Lesson[];
  /** Set only when one winner made exactly this hunk: its measurement is the hunk's own. */
  measured?: LessonMetric;
}

/** The Accept lens of a hunk: its own measured effect, or else only where it comes from. */
export function acceptTitle(hunk: HunkEvidence): string {
  if (hunk.measured) return `Accept (${formatEvidence(hunk.measured)})`;
  const n = hunk.lessons.length;
  if (n === 0) return 'Accept';
  return n === 1 ? 'Accept (part of a kept change measured as a whole)' : `Accept (from ${n} kept changes, each measured as a whole)`;
}

/** One line per winner a hunk comes from, with what was measured for it and over what. */
export function sourceLines(hunk: HunkEvidence): string[] {
  return hunk.lessons.map((lesson) => {
    const m = lesson.metric;
    const scope = hunk.measured ? 'this change alone' : 'the whole of that change, not this part alone';
    const evidence = m ? `: ${m.name} ${formatEvidence(m)} for ${scope}` : '';
    return `cycle ${lesson.cycle}: ${readable(lesson.hypothesis)}${evidence}`;
  });
}

/** Ghost text for a hunk's new lines: the first one, and how many follow (the hover shows them). */
export function ghostLabel(newLines: string[]): string {
  const first = newLines.find((l) => l.trim() !== '')?.trim() ?? '(empty line)';
  const cut = first.length > GHOST_MAX_CHARS ? `${first.slice(0, GHOST_MAX_CHARS - 1)}…` : first;
  const more = newLines.length - 1;
  return more > 0 ? `${cut}  … +${more} more line${more === 1 ? '' : 's'}: hover to read them` : cut;
}

/**
 * The hover of a pending hunk, as Markdown: where it comes from, the hunk rendered as a diff, and a
 * link to the diff view. Every text of a lesson is escaped: a hypothesis is never read as Markdown.
 */
export function hunkHoverMarkdown(hunk: Hunk & HunkEvidence, openDiffLink: string): string {
  const parts = ['**RSI proposal**'];
  if (hunk.measured) parts.push(`Measured for this change: ${escapeMarkdown(formatEvidence(hunk.measured))}`);
  const sources = sourceLines(hunk);
  if (sources.length > 0) parts.push(`From:\n\n${sources.map((line) => `- ${escapeMarkdown(line)}`).join('\n')}`);
  const lines = [...hunk.oldLines.map((l) => `-${l}`), ...hunk.newLines.map((l) => `+${l}`)];
  const fence = '`'.repeat(Math.max(3, ...lines.map((l) => longestRun(l, '`') + 1)));
  parts.push(`${fence}diff\n${lines.slice(0, HOVER_MAX_LINES).join('\n')}\n${fence}`);
  const more = lines.length - HOVER_MAX_LINES;
  parts.push(`${more > 0 ? `${more} more lines: ` : ''}[Open Diff](${openDiffLink}) shows it in the whole file.`);
  return parts.join('\n\n');
}

/** The tuner writes moves as "a -> b": an arrow reads better and cannot start a Markdown quote. */
function readable(text: string): string {
  return text.replace(/ -> /g, ' → ');
}

/** Text shown as itself in Markdown: every character Markdown could read as syntax is escaped. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~]/g, '\\$&');
}

function longestRun(text: string, char: string): number {
  let longest = 0;
  let run = 0;
  for (const c of text) {
    run = c === char ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}
