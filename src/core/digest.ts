/**
 * The context memory's two digests: what the lessons say (kept, rejected by the user, regressed,
 * failed, no effect) and what git history says about the target files. Each is a section of
 * prioritized groups, so that over the budget the least telling lines go first (see `fitSection`).
 */
import type { FileHistory, ProfiledFunction, ProfileResult } from '../protocol/runner';
import type { Direction, Lesson, Outcome, Verdict } from './lessons';
import { restingParameters } from './proposers/tuner';
import { clip } from './text';
import { percent } from './format';
import { gainSign } from './stats';

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

/** Profiled functions of the target files a lesson changed (see `lessonFunctions`). */
export type FunctionsOf = (lesson: Lesson) => ProfiledFunction[];

export function lessonDigest(lessons: Lesson[], verdicts: Map<string, Verdict['verdict']>, direction: Direction, functionsOf: FunctionsOf = () => []): Section | undefined {
  if (lessons.length === 0) return undefined;
  const where = (l: Lesson) => {
    const names = functionsOf(l).map((f) => f.name);
    return l.files.length > 0 ? ` in ${l.files.join(', ')}${names.length > 0 ? ` (${names.join(', ')})` : ''}` : '';
  };
  const newestFirst = [...lessons].reverse();
  const rejected = newestFirst.filter((l) => verdicts.get(l.id) === 'rejected');
  const gain = (l: Lesson) => gainSign(direction) * (l.metric?.change ?? 0);
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
    if (line) return clip(line.trim(), LINE_CHARS);
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


function days(n: number): string {
  return n === 0 ? 'today' : n === 1 ? 'yesterday' : `${n} days ago`;
}

function quote(text: string): string {
  return JSON.stringify(clip(text.split('\n')[0] ?? '', LINE_CHARS));
}

function firstLine(text: string | undefined): string {
  return clip((text ?? '').split('\n')[0]!.trim(), LINE_CHARS);
}

/** The patch's changed lines, indented under the lesson: what exactly was tried. */
function changedLines(patch: string): string {
  const changed = patch.split('\n').filter((l) => /^[-+]/.test(l) && !/^(---|\+\+\+) /.test(l));
  if (changed.length === 0) return '';
  const shown = changed.slice(0, PATCH_LINES).map((l) => `\n    ${clip(l, LINE_CHARS)}`);
  const more = changed.length > PATCH_LINES ? `\n    (${changed.length - PATCH_LINES} more changed lines)` : '';
  return shown.join('') + more;
}

/** Functions listed per group of the profile section. */
const PROFILE_FUNCTIONS = { targets: 12, elsewhere: 10 };
/** Hottest lines named per function. */
const FUNCTION_LINES = 3;
/** Processes of a profiled run named in its heading, the busiest first. */
const PROCESSES_NAMED = 3;

/**
 * Where the time goes: the target files' functions by self time first (with their hottest lines and
 * what the lessons tried in them), then the rest. A profile that could not be taken is one line.
 */
export function profileDigest(profile: ProfileResult | undefined, targetFiles: string[], triedIn: (fn: ProfiledFunction) => Lesson[]): Section | undefined {
  if (!profile) return undefined;
  if (!profile.ok) return { heading: `## Where the time goes: no CPU profile of the baseline: ${profile.reason}`, groups: [] };
  const share = (ms: number) => `${((100 * ms) / Math.max(profile.busyMs, 1e-9)).toFixed(1)}%`;
  const inTargets = profile.functions.filter((f) => targetFiles.includes(f.file));
  const elsewhere = profile.functions.filter((f) => !targetFiles.includes(f.file));
  return {
    heading:
      `## Where the time goes: CPU profile of one baseline run (${Math.round(profile.busyMs)} ms busy in ${processCount(profile.processes)}; ` +
      'self time: in the function itself, not in what it calls)',
    groups: [
      {
        title: 'In the target files, hottest first:',
        items:
          inTargets.length === 0
            ? ['- no sample fell in the target files: the time goes to the code below']
            : inTargets.slice(0, PROFILE_FUNCTIONS.targets).map((f) => {
                const lines = f.lines.slice(0, FUNCTION_LINES).map(([line, ms]) => `${line} (${share(ms)})`);
                return `- ${f.name} (${f.file}:${f.line}): ${share(f.selfMs)} self${lines.length > 0 ? `, hottest lines ${lines.join(', ')}` : ''}${tried(triedIn(f))}`;
              }),
        priority: 3,
      },
      {
        title: 'Elsewhere (not yours to change; it says what the target code calls and what surrounds it):',
        items: elsewhere.slice(0, PROFILE_FUNCTIONS.elsewhere).map((f) => `- ${f.name}${f.file ? ` (${f.file}:${f.line})` : f.name.startsWith('(') ? '' : ' (native)'}: ${share(f.selfMs)} self`),
        priority: 1,
      },
    ].filter((g) => g.items.length > 0),
  };
}

/** "1 Node process", or "3 Node processes: npm/bin/npm-cli.js 900 ms, bench.js 600 ms, ..." (the busiest named). */
function processCount(processes: { script: string; busyMs: number }[]): string {
  if (processes.length === 1) return '1 Node process';
  const named = processes.slice(0, PROCESSES_NAMED).map((p) => `${p.script || '(no script)'} ${Math.round(p.busyMs)} ms`);
  const more = processes.length > PROCESSES_NAMED ? `, and ${processes.length - PROCESSES_NAMED} more` : '';
  return `${processes.length} Node processes: ${named.join(', ')}${more}`;
}

/** What the lessons tried in one function, e.g. "; tried here: 1 kept (+4.10%), 2 no effect". */
function tried(lessons: Lesson[]): string {
  if (lessons.length === 0) return '';
  const counts = new Map<Outcome, Lesson[]>();
  for (const l of lessons) counts.set(l.outcome, [...(counts.get(l.outcome) ?? []), l]);
  const parts = [...counts].map(([outcome, ls]) =>
    outcome === 'kept' ? `${ls.length} kept (${ls.map((l) => percent(l.metric?.change ?? 0)).join(', ')})` : `${ls.length} ${outcome}`,
  );
  return `; tried here: ${parts.join(', ')}`;
}

/**
 * The profiled functions of the target files each lesson changed: the lines its patch removed or
 * added, found in today's files, inside a function's lines. A function's lines run from its first
 * line to where the indentation closes it (or its last sampled line, if later); the innermost wins.
 */
export function lessonFunctions(lessons: Lesson[], files: { path: string; content: string }[], functions: ProfiledFunction[]): Map<string, ProfiledFunction[]> {
  const fileLines = new Map(files.map((f) => [f.path, f.content.split('\n')]));
  const ranges = functions
    .filter((f) => fileLines.has(f.file))
    .map((f) => ({ f, ...functionRange(fileLines.get(f.file)!, f) }));
  const result = new Map<string, ProfiledFunction[]>();
  for (const lesson of lessons) {
    const hit = new Set<ProfiledFunction>();
    for (const [file, changed] of changedLinesByFile(lesson.patch)) {
      const lines = fileLines.get(file);
      if (!lines) continue;
      for (const text of changed) {
        const at = lines.findIndex((l) => l.trim() === text) + 1;
        if (at === 0) continue;
        const inner = ranges.filter((r) => r.f.file === file && r.from <= at && at <= r.to).sort((a, b) => a.to - a.from - (b.to - b.from))[0];
        if (inner) hit.add(inner.f);
      }
    }
    if (hit.size > 0) result.set(lesson.id, [...hit]);
  }
  return result;
}

function functionRange(lines: string[], f: ProfiledFunction): { from: number; to: number } {
  if (f.name === '(top level)') return { from: 1, to: lines.length };
  const indent = (line: string) => line.length - line.trimStart().length;
  const lastSampled = Math.max(f.line, ...f.lines.map(([line]) => line));
  const start = lines[f.line - 1] ?? '';
  let to = f.line;
  for (let i = f.line; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    if (indent(line) <= indent(start)) {
      to = /^\s*([}\])]|end\b)/.test(line) ? i + 1 : i;
      break;
    }
    to = i + 1;
  }
  return { from: f.line, to: Math.max(to, lastSampled) };
}

/** A lesson patch's removed and added lines (trimmed, the telling ones), by file. */
function changedLinesByFile(patch: string): Map<string, string[]> {
  const byFile = new Map<string, string[]>();
  let file: string | undefined;
  for (const line of patch.split('\n')) {
    const header = /^\+\+\+ (?:b\/)?(\S+)/.exec(line);
    if (header) file = header[1];
    else if (file && /^[-+]/.test(line) && !line.startsWith('--- ')) {
      const text = line.slice(1).trim();
      if (text.replace(/\W/g, '').length >= 3) byFile.set(file, [...(byFile.get(file) ?? []), text]);
    }
  }
  return byFile;
}
