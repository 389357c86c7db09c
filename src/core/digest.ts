/**
 * The context memory's two digests: what the lessons say (kept, rejected by the user, regressed,
 * failed, no effect) and what git history says about the target files. Each is a section of
 * prioritized groups, so that over the budget the least telling lines go first (see `fitSection`).
 */
import type { FileHistory } from '../runner/protocol';
import type { Direction, Lesson, Outcome, Verdict } from './lessons';
import { restingParameters } from './proposers/tuner';

export interface Group {
  /** A line above the items; none for a group of plain items. */
  title?: string;
  items: string[];
  /** Higher survives longer when the section is over its room. */
  priority: number;
}

export interface Section {
  heading: string;
  groups: Group[];
}

export interface GitInsight {
  /** Commits asked for (config.context.historyCommits). */
  window: number;
  /** Commits read: fewer than the window when the history is shorter. */
  commits: number;
  files: FileHistory[];
}

/** Changed at most this often and untouched this long: stable, better left alone. */
const STABLE = { maxChurn: 2, minDays: 180 };
/** Changed this recently, or this often: active. */
const ACTIVE = { maxDays: 30, minChurn: 5 };
/** At least this many fix/revert commits, and at least this share of the file's commits. */
const FIX_PRONE = { minFixes: 2, minShare: 1 / 3 };
/** Changed lines of a patch shown under a lesson. */
const PATCH_LINES = 4;
const LINE_CHARS = 160;

const FAILURE_PHRASE: Partial<Record<Outcome, string>> = {
  'gate-failed': 'failed the gate',
  crashed: 'crashed',
  timeout: 'timed out',
  'memory-exceeded': 'exceeded the memory limit',
  invalid: 'could not be applied',
};

export function lessonDigest(lessons: Lesson[], verdicts: Map<string, Verdict['verdict']>, direction: Direction): Section | undefined {
  if (lessons.length === 0) return undefined;
  const newestFirst = [...lessons].reverse();
  const rejected = newestFirst.filter((l) => verdicts.get(l.id) === 'rejected');
  const gain = (l: Lesson) => (direction === 'maximize' ? 1 : -1) * (l.metric?.change ?? 0);
  const kept = newestFirst.filter((l) => l.outcome === 'kept' && verdicts.get(l.id) !== 'rejected').sort((a, b) => gain(b) - gain(a));
  const regressed = newestFirst.filter((l) => l.outcome === 'regressed' && verdicts.get(l.id) !== 'rejected');
  const noEffect = newestFirst.filter((l) => l.outcome === 'no-effect' && verdicts.get(l.id) !== 'rejected');
  const cycles = new Set(lessons.map((l) => l.cycle)).size;
  return {
    heading: `## What was tried before: ${lessons.length} candidates in ${cycles} cycles (${outcomeCounts(lessons, rejected.length)})`,
    groups: [
      {
        title: 'The user rejected these: do not propose them again.',
        items: rejected.map((l) => `- the user rejected: ${quote(l.hypothesis)}${where(l)}${l.metric ? ` (measured ${percent(l.metric.change)})` : ''}${changedLines(l.patch)}`),
        priority: 5,
      },
      {
        title: 'Kept (better beyond the noise), best first:',
        items: kept.map((l) => `- ${percent(l.metric?.change ?? 0)} ${quote(l.hypothesis)}${where(l)}${verdicts.get(l.id) === 'accepted' ? ', accepted by the user' : ''}${changedLines(l.patch)}`),
        priority: 4,
      },
      {
        title: 'Regressed (made it worse), newest first:',
        items: regressed.map((l) => `- ${percent(l.metric?.change ?? 0)} ${quote(l.hypothesis)}${where(l)}${changedLines(l.patch)}`),
        priority: 2,
      },
      { title: 'Failed (a failure repeated by several candidates is one line, the most frequent first):', items: failureItems(newestFirst), priority: 3 },
      { title: 'No effect beyond the noise floor, newest first:', items: noEffect.map((l) => `- ${quote(l.hypothesis)}${where(l)}`), priority: 1 },
    ].filter((g) => g.items.length > 0),
  };
}

/** Attempts on a file since its last kept change, all unhelpful, before it counts as at rest. */
const FILE_REST = 3;

/**
 * The search state, as groups of the lessons section: which parameters and files are at rest
 * (recent attempts around their current state did not help), and which combinations of co-winners
 * were tried. A model spends its candidates better elsewhere than where the search has stalled.
 */
export function searchStateGroups(files: { path: string; content: string }[], lessons: Lesson[], verdicts: Map<string, Verdict['verdict']>): Group[] {
  const resting = restingParameters(files, lessons, verdicts).map(({ param, why }) => `- ${param.name} = ${param.literal} in ${param.file}:${param.line}: ${why}`);
  const restingFiles = files.flatMap(({ path }) => {
    const since: Lesson[] = [];
    for (const l of lessons) {
      if (!l.files.includes(path) || l.outcome === 'duplicate') continue;
      if (l.outcome === 'kept' && verdicts.get(l.id) !== 'rejected') since.length = 0;
      else since.push(l);
    }
    return since.length >= FILE_REST ? [`- ${path}: the last ${since.length} candidates since its last kept change did not help (${outcomeCounts(since, 0)})`] : [];
  });
  const combinations = [...lessons].reverse().filter((l) => l.parents).map((l) =>
    `- ${l.outcome}${l.metric ? ` ${percent(l.metric.change)}` : ''}: ${quote(l.hypothesis)} (${l.parents!.length} kept candidates of one cycle together)`);
  return [
    { title: 'At rest (moves around the current value or code did not help; they wake when something else changes): try elsewhere.', items: [...resting, ...restingFiles], priority: 3 },
    { title: 'Combinations of kept candidates tried, newest first:', items: combinations, priority: 2 },
  ].filter((g) => g.items.length > 0);
}

function outcomeCounts(lessons: Lesson[], rejected: number): string {
  const counts = new Map<Outcome, number>();
  for (const l of lessons) counts.set(l.outcome, (counts.get(l.outcome) ?? 0) + 1);
  const parts = [...counts].map(([outcome, n]) => `${n} ${outcome}`);
  if (rejected > 0) parts.push(`${rejected} rejected by the user`);
  return parts.join(', ');
}

/**
 * Failures grouped by outcome and the first line of why: one line per group, so that twenty
 * candidates failing the same test read as one pattern, with a telling line of its output.
 */
function failureItems(newestFirst: Lesson[]): string[] {
  const groups = new Map<string, Lesson[]>();
  for (const l of newestFirst) {
    if (!FAILURE_PHRASE[l.outcome]) continue;
    const key = `${l.outcome}\n${firstLine(l.detail)}`;
    groups.set(key, [...(groups.get(key) ?? []), l]);
  }
  return [...groups.values()]
    .sort((a, b) => b.length - a.length)
    .map((group) => {
      const l = group[0]!;
      // The same command can fail in different ways: name up to two.
      const telling = [...new Set(group.map((g) => tellingLine(g.detail)).filter(Boolean))];
      const why = [firstLine(l.detail), telling.slice(0, 2).join(' | ')].filter(Boolean).join(': ');
      if (group.length === 1) return `- ${FAILURE_PHRASE[l.outcome]}: ${quote(l.hypothesis)}${why ? ` (${why})` : ''}`;
      const examples = group.slice(0, 3).map((g) => quote(g.hypothesis)).join('; ');
      return `- ${group.length} candidates ${FAILURE_PHRASE[l.outcome]}${why ? ` (${why})` : ''}; e.g. ${examples}`;
    });
}

/** The first line of output that says what went wrong (an error or a failed assertion), if any. */
function tellingLine(detail: string | undefined): string {
  const rest = (detail ?? '').split('\n').slice(1);
  for (const pattern of [/^\s*\w*error\b/i, /\b(not ok|assert\w*|expected|fail\w*)\b/i]) {
    const line = rest.find((l) => pattern.test(l));
    if (line) return clip(line.trim());
  }
  return '';
}

export function gitDigest(insight: GitInsight | undefined, targetFiles: string[]): Section | undefined {
  if (!insight || insight.commits === 0) return undefined;
  const byPath = new Map(insight.files.map((f) => [f.path, f]));
  const known = targetFiles.map((p) => byPath.get(p)).filter((f): f is FileHistory => f !== undefined);
  const unseen = targetFiles.filter((p) => !byPath.has(p));
  // A full window that never touched a file says it is older than the window: stable.
  const windowFull = insight.commits >= insight.window;
  const stable = known.filter((f) => f.churn <= STABLE.maxChurn && f.lastChangedDays >= STABLE.minDays);
  const active = known.filter((f) => !stable.includes(f) && (f.lastChangedDays <= ACTIVE.maxDays || f.churn >= ACTIVE.minChurn));
  const fixProne = known.filter((f) => f.fixes >= FIX_PRONE.minFixes && f.fixes >= FIX_PRONE.minShare * f.churn);
  const commits = (n: number) => `${n} commit${n === 1 ? '' : 's'}`;
  const groups: Group[] = [
    {
      title: 'Frequent fix/revert commits: change with care and keep the tested behaviour:',
      items: fixProne.sort((a, b) => b.fixes - a.fixes).map((f) => `- ${f.path}: ${f.fixes} of its ${commits(f.churn)} were fixes or reverts`),
      priority: 3,
    },
    {
      title: 'Stable (rarely changed, long untouched): leave alone unless needed:',
      items: [
        ...stable.map((f) => `- ${f.path}: ${commits(f.churn)}, untouched for ${f.lastChangedDays} days`),
        ...(windowFull ? unseen.map((p) => `- ${p}: untouched in the last ${commits(insight.commits)}`) : []),
      ],
      priority: 2,
    },
    {
      title: 'Active (changed recently or often):',
      items: active.sort((a, b) => a.lastChangedDays - b.lastChangedDays).map((f) => `- ${f.path}: ${commits(f.churn)}, last changed ${days(f.lastChangedDays)}, first seen ${days(f.firstSeenDays)}`),
      priority: 1,
    },
    { title: 'Not in git history (new or untracked):', items: windowFull ? [] : unseen.map((p) => `- ${p}`), priority: 0 },
  ];
  const nonEmpty = groups.filter((g) => g.items.length > 0);
  if (nonEmpty.length === 0) return undefined;
  return { heading: `## What git history says about the target files (last ${commits(insight.commits)} of HEAD's first-parent line)`, groups: nonEmpty };
}

/**
 * The section within `room` characters: whole items only, the lowest-priority group's last items
 * dropped first, each group saying how many of its items are not shown. Empty when not even the
 * heading fits.
 */
export function fitSection(section: Section | undefined, room: number): string {
  if (!section) return '';
  const shown = section.groups.map((g) => g.items.length);
  const render = () => {
    const lines = [section.heading];
    section.groups.forEach((g, i) => {
      if (shown[i] === 0 && g.items.length > 0) return void lines.push(`${g.title ?? ''} (${g.items.length} not shown for lack of space)`.trim());
      if (g.title) lines.push(g.title);
      lines.push(...g.items.slice(0, shown[i]));
      if (shown[i]! < g.items.length) lines.push(`  (and ${g.items.length - shown[i]!} more)`);
    });
    return lines.join('\n');
  };
  const byPriority = section.groups.map((g, i) => ({ g, i })).sort((a, b) => a.g.priority - b.g.priority);
  let text = render();
  while (text.length > room) {
    const next = byPriority.find(({ i }) => shown[i]! > 0);
    if (!next) return section.heading.length <= room ? section.heading : '';
    shown[next.i]!--;
    text = render();
  }
  return text;
}

export function percent(change: number): string {
  return `${change >= 0 ? '+' : ''}${(change * 100).toFixed(2)}%`;
}

function days(n: number): string {
  return n === 0 ? 'today' : n === 1 ? 'yesterday' : `${n} days ago`;
}

function where(l: Lesson): string {
  return l.files.length > 0 ? ` in ${l.files.join(', ')}` : '';
}

function quote(text: string): string {
  return JSON.stringify(clip(text.split('\n')[0] ?? ''));
}

function firstLine(text: string | undefined): string {
  return clip((text ?? '').split('\n')[0]!.trim());
}

function clip(line: string): string {
  return line.length > LINE_CHARS ? `${line.slice(0, LINE_CHARS - 1)}…` : line;
}

/** The patch's changed lines, indented under the lesson: what exactly was tried. */
function changedLines(patch: string): string {
  const changed = patch.split('\n').filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+) /.test(l));
  if (changed.length === 0) return '';
  const shown = changed.slice(0, PATCH_LINES).map((l) => `\n    ${clip(l)}`);
  const more = changed.length > PATCH_LINES ? `\n    (${changed.length - PATCH_LINES} more changed lines)` : '';
  return shown.join('') + more;
}
