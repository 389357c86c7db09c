/**
 * Context memory: what a model proposer is told (ProposeContext.prompt; `rsi context` prints it),
 * within config.context.budgetChars: the goal, the workspace's conventions, what git history and
 * the lessons say, where the baseline's time goes (a CPU profile), the target files (most relevant
 * first, hottest lines named), the measuring code (read-only), and how to answer.
 *
 * `buildContext` is pure; `contextPrompt` gathers its input (files, lessons, git history, profile).
 */
import { createHash } from 'node:crypto';
import * as path from 'node:path';
import type { Overlay } from '../protocol/evaluation';
import type { RunnerRequests } from '../protocol/runner';
import type { HistoryResult, ProfiledFunction, ProfileResult } from '../protocol/runner';
import { metricSpec, type RsiConfig } from './config';
import { fitSection, gitDigest, lessonDigest, lessonFunctions, profileDigest, searchStateGroups, type GitInsight, type Section } from './digest';
import type { Direction, Lesson, Verdict } from './lessons';
import { findMeasuringFiles } from './measuringCode';
import { ANSWER_FORMAT } from './proposers/format';
import { readTextOrNull } from './workspace';
import { clip } from './text';

export interface BaselineSummary {
  median: number;
  n: number;
  /** The runs behind the median, when known (a cycle's own baseline). */
  values?: number[];
  deterministic: boolean;
}

export interface TargetFile {
  path: string;
  content: string;
}

/** A file of the measuring code: shown, never to be changed. */
export interface ReadOnlyFile extends TargetFile {
  /** Why it is shown, e.g. "run by the metric command `node bench.js`". */
  why: string;
}

export interface ContextInput {
  metric: { name: string; direction: Direction; command: string };
  /** Absent: none measured on the files as they are now. */
  baseline?: BaselineSummary;
  /** Relative change; absent: not calibrated yet. */
  noiseFloor?: number;
  gate: string[];
  files: TargetFile[];
  /** The scripts the metric and gate run and context.include's files: after the target files, as room allows. */
  measuring?: ReadOnlyFile[];
  /** One baseline run's CPU profile; absent: none was asked for. */
  profile?: ProfileResult;
  lessons: Lesson[];
  verdicts: Map<string, Verdict['verdict']>;
  history?: GitInsight;
  conventions?: { path: string; text: string };
  answerFormat: string;
  budgetChars: number;
}

/** Shares of the budget the optional sections keep when the whole does not fit; the target files get the rest. */
const SHARES = { profile: 0.1, lessons: 0.3, conventions: 0.15, history: 0.1 } as const;
/** Spare room goes back to the optional sections in this order. */
const REFILL_ORDER = ['profile', 'lessons', 'conventions', 'history'] as const;
/** A file part shorter than this is listed by name instead: a fragment that small misleads more than it helps. */
const MIN_FILE_PART = 400;
/** Blank lines between at most eight sections, and the final newline. */
const SEPARATORS = 7 * 2 + 1;
/** Hottest lines named above a target file's listing, and the least share of the busy time to be named. */
const HOT_LINES = { count: 5, minShare: 0.01 };

export function buildContext(input: ContextInput): string {
  const goal = goalSection(input);
  const targetPaths = input.files.map((f) => f.path);
  const profiled = input.profile?.ok ? input.profile : undefined;
  const touched = lessonFunctions(input.lessons, input.files, profiled?.functions ?? []);
  const lessons = withSearchState(lessonDigest(input.lessons, input.verdicts, input.metric.direction, (l) => touched.get(l.id) ?? []), input);
  const profile = profileDigest(input.profile, targetPaths, (fn) => input.lessons.filter((l) => touched.get(l.id)?.includes(fn)));
  const history = gitDigest(input.history, targetPaths);
  const conventions = input.conventions;
  const render = {
    profile: (room: number) => fitSection(profile, room),
    lessons: (room: number) => fitSection(lessons, room),
    history: (room: number) => fitSection(history, room),
    conventions: (room: number) =>
      conventions ? withTruncation(`## Conventions of this workspace (${conventions.path})\n`, conventions.text, room, conventions.path) : '',
  };
  const room = input.budgetChars - goal.length - input.answerFormat.length - SEPARATORS;
  const need = { profile: 0, lessons: 0, history: 0, conventions: 0 };
  const given = { profile: 0, lessons: 0, history: 0, conventions: 0 };
  for (const key of REFILL_ORDER) {
    need[key] = render[key](Infinity).length;
    given[key] = Math.min(need[key], Math.floor(SHARES[key] * input.budgetChars));
  }
  const reserved = () => REFILL_ORDER.reduce((sum, key) => sum + given[key], 0);
  const total = reserved();
  if (total > room) for (const key of REFILL_ORDER) given[key] = Math.floor((given[key] * Math.max(0, room)) / total);

  const files = fileSection(
    '## Target files (the only files you may change), most relevant first',
    rankFiles(input).map((f) => ({ path: f.path, heading: `### ${f.path}\n${profiled ? hotLines(f, profiled.functions, profiled.busyMs) : ''}`, content: f.content })),
    room - reserved(),
    '(no file matches the targets of .rsi/config.json)',
  );
  let spare = room - reserved() - files.length;
  // The measuring code comes after the target files: what is judged matters more than the judge.
  const measuring = fileSection(
    '## Measuring code (read-only: a change to these files is refused), what the metric and the gate run',
    (input.measuring ?? []).map((f) => ({ path: f.path, heading: `### ${f.path} (${f.why})\n`, content: f.content })),
    spare,
  );
  spare -= measuring.length;
  for (const key of REFILL_ORDER) {
    const more = Math.max(0, Math.min(need[key] - given[key], spare));
    given[key] += more;
    spare -= more;
  }
  const sections = [
    goal,
    render.conventions(given.conventions),
    render.history(given.history),
    render.lessons(given.lessons),
    render.profile(given.profile),
    files,
    measuring,
    input.answerFormat,
  ];
  const text = sections.filter((s) => s !== '').join('\n\n') + '\n';
  // Over only when the goal and the answer format alone exceed the budget.
  return text.slice(0, input.budgetChars);
}

/** The lessons digest with the search state (what rests, which combinations were tried) after its own groups. */
function withSearchState(lessons: Section | undefined, { files, lessons: all, verdicts }: ContextInput): Section | undefined {
  return lessons && { ...lessons, groups: [...lessons.groups, ...searchStateGroups(files, all, verdicts)] };
}

function goalSection({ metric, baseline, noiseFloor, gate }: ContextInput): string {
  const lines = [
    '## Goal',
    `Make the metric \`${metric.name}\` ${metric.direction === 'maximize' ? 'higher' : 'lower'} (${metric.direction}). ` +
      `It is read from the output of \`${metric.command}\`, run in a copy of the workspace.`,
    `Current baseline: ${baseline ? baselineText(baseline) : '(none measured on the files as they are now)'}.`,
  ];
  if (baseline?.deterministic) lines.push('The metric is deterministic (every run gives the same value): any change is real, however small.');
  else if (noiseFloor !== undefined) {
    lines.push(`Noise floor: ${(noiseFloor * 100).toFixed(2)}%. A change smaller than that cannot be told from measurement noise and is never kept.`);
  } else lines.push('Noise floor: not calibrated yet (it is measured before the first comparison).');
  if (gate.length > 0) lines.push(`A candidate is measured only if these commands pass first: ${gate.map((c) => `\`${c}\``).join(', ')}.`);
  return lines.join('\n');
}

function baselineText({ median, n, values, deterministic }: BaselineSummary): string {
  // How many runs a deterministic metric took says nothing, and differs between a cycle (its fresh
  // baseline) and `rsi context` (the latest lesson's): the value alone keeps both prompts the same.
  if (deterministic) return num(median);
  const runs = `${n} run${n === 1 ? '' : 's'}`;
  if (!values || values.length === 0) return `${num(median)}, the median of ${runs}`;
  if (values.length <= 12) return `${num(median)}, the median of ${runs}: ${values.map(num).join(', ')}`;
  return `${num(median)}, the median of ${runs} from ${num(Math.min(...values))} to ${num(Math.max(...values))}`;
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
}

/**
 * Files with kept lessons first (the most kept first), then by the profile's self time in them, then
 * the most recently changed in git, then the rest.
 */
function rankFiles({ files, lessons, verdicts, history, profile }: ContextInput): TargetFile[] {
  const kept = new Map<string, number>();
  for (const l of lessons) {
    if (l.outcome === 'kept' && verdicts.get(l.id) !== 'rejected') for (const f of l.files) kept.set(f, (kept.get(f) ?? 0) + 1);
  }
  const selfMs = new Map<string, number>();
  for (const f of profile?.ok ? profile.functions : []) selfMs.set(f.file, (selfMs.get(f.file) ?? 0) + f.selfMs);
  const lastChanged = new Map(history?.files.map((f) => [f.path, f.lastChangedDays]));
  const never = Number.MAX_SAFE_INTEGER;
  return [...files].sort(
    (a, b) =>
      (kept.get(b.path) ?? 0) - (kept.get(a.path) ?? 0) ||
      (selfMs.get(b.path) ?? 0) - (selfMs.get(a.path) ?? 0) ||
      (lastChanged.get(a.path) ?? never) - (lastChanged.get(b.path) ?? never),
  );
}

/**
 * The file's hottest lines, quoted under its heading. Marked there and not inside the listing: a
 * marker in the text would be copied into SEARCH blocks, which then match nothing.
 */
function hotLines(file: TargetFile, functions: ProfiledFunction[], busyMs: number): string {
  const lines = file.content.split('\n');
  const hottest = functions
    .filter((f) => f.file === file.path)
    .flatMap((f) => f.lines)
    .filter(([, ms]) => ms >= HOT_LINES.minShare * busyMs)
    .sort((a, b) => b[1] - a[1])
    .slice(0, HOT_LINES.count);
  if (hottest.length === 0) return '';
  const quoted = hottest.map(([line, ms]) => `- line ${line}, ${((100 * ms) / busyMs).toFixed(1)}%: \`${clip((lines[line - 1] ?? '').trim(), 120)}\``);
  return `Hottest lines (share of the profiled busy time):\n${quoted.join('\n')}\n`;
}


interface FileBlock {
  path: string;
  /** The file's heading line(s), ending with a newline. */
  heading: string;
  content: string;
}

/** The files in order, whole while they fit; then one cut at a line, saying so; the rest named only. */
function fileSection(heading: string, files: FileBlock[], room: number, whenEmpty?: string): string {
  if (files.length === 0) return whenEmpty ? `${heading}\n${whenEmpty}`.slice(0, Math.max(0, room)) : '';
  if (heading.length > room) return '';
  const parts = [heading];
  let used = heading.length;
  const notShown: string[] = [];
  const notShownLine = (paths: string[]) => (paths.length > 0 ? `(not shown for lack of space: ${paths.join(', ')})` : '');
  files.forEach((file, i) => {
    // Keep room to name the files that may not fit after this one.
    const free = room - used - 1 - (notShownLine([...notShown, ...files.slice(i + 1).map((f) => f.path)]).length + 1);
    const block = withTruncation(file.heading, file.content, free, file.path, true);
    if (block === '') notShown.push(file.path);
    else {
      parts.push(block);
      used += block.length + 1;
    }
  });
  if (notShown.length > 0) parts.push(notShownLine(notShown));
  return parts.join('\n');
}

/**
 * `heading` and `text` (fenced when asked) within `room`: whole, or cut at a line end with a line
 * saying how much is shown; empty when less than MIN_FILE_PART of the text would fit.
 */
function withTruncation(heading: string, text: string, room: number, name: string, fence = false): string {
  const body = (part: string) => (fence ? fenced(part, text) : part.replace(/\n+$/, ''));
  const whole = heading + body(text);
  if (whole.length <= room) return whole;
  const note = (shown: number) => `\n[${name} is cut here: the first ${shown} of ${text.length} characters are shown]`;
  // body() adds at most a newline to a part that does not end with one.
  const fits = room - (heading + body('')).length - note(text.length).length - 1;
  if (fits < MIN_FILE_PART) return '';
  const cut = text.slice(0, fits);
  const part = cut.slice(0, cut.lastIndexOf('\n') + 1) || cut;
  return heading + body(part) + note(part.length);
}

/** A fence longer than any backtick run in the whole text, so no part of it can close the fence. */
function fenced(body: string, whole: string): string {
  const longest = Math.max(0, ...(whole.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${body}${body.endsWith('\n') || body === '' ? '' : '\n'}${fence}`;
}

/** Where contextPrompt finds its input. */
export interface PromptSources {
  workspace: string;
  config: RsiConfig;
  targetFiles: string[];
  /** A target file as the cycle's baseline sees it (kept winners included). */
  readFile(relativePath: string): Promise<string>;
  lessons: Lesson[];
  verdicts: Map<string, Verdict['verdict']>;
  baseline?: BaselineSummary;
  noiseFloor?: number;
  /** Git insight for these workspace-relative files: `historyFromRunner`. */
  history(paths: string[]): Promise<HistoryResult>;
  /** One baseline run's CPU profile, cached under `key` (the baseline's content): `profileFromRunner`. Absent: no profile. */
  profile?(key: string): Promise<ProfileResult>;
  log(message: string): void;
}

export async function contextPrompt(sources: PromptSources): Promise<string> {
  const { config } = sources;
  const files = await Promise.all(sources.targetFiles.map(async (p) => ({ path: p, content: await sources.readFile(p) })));
  const measuring = await measuringCode(sources);
  return buildContext({
    metric: { name: config.metric.name, direction: config.metric.direction, command: config.metric.command },
    baseline: sources.baseline,
    noiseFloor: sources.noiseFloor,
    gate: config.gate,
    files,
    measuring,
    profile: await baselineProfile(sources, [...files, ...measuring]),
    lessons: sources.lessons,
    verdicts: sources.verdicts,
    history: await gitInsight(sources),
    conventions: await conventions(sources),
    answerFormat: ANSWER_FORMAT,
    budgetChars: config.context.budgetChars,
  });
}

/** The measuring files' text, binary ones left out. One that is also a target stays a target, with a warning. */
async function measuringCode({ workspace, config, targetFiles, log }: PromptSources): Promise<ReadOnlyFile[]> {
  const found = await findMeasuringFiles(workspace, config);
  for (const f of found.filter((f) => targetFiles.includes(f.path))) {
    log(`${f.path} is ${f.why} and matches the targets: a candidate may change what measures it; add it to "protected" in .rsi/config.json`);
  }
  const readOnly = found.filter((f) => !targetFiles.includes(f.path));
  const read = await Promise.all(readOnly.map(async (f) => ({ ...f, content: (await readTextOrNull(path.join(workspace, f.path))) ?? '' })));
  return read.filter((f) => !f.content.slice(0, 8192).includes('\0'));
}

/**
 * The profile of the baseline these files make (with the metric command): from the runner's cache
 * when it has one for them, else from one profiled run. A profile that cannot be taken is a line
 * of the context, never a failed cycle.
 */
async function baselineProfile(sources: PromptSources, files: TargetFile[]): Promise<ProfileResult | undefined> {
  if (!sources.profile) return undefined;
  const hash = createHash('sha256').update(sources.config.metric.command);
  for (const f of [...files].sort((a, b) => (a.path < b.path ? -1 : 1))) hash.update(`\0${f.path}\0${f.content}`);
  try {
    const result = await sources.profile(hash.digest('hex').slice(0, 32));
    if (result.ok && !result.cached) sources.log(`profiled one baseline run: ${Math.round(result.busyMs)} ms busy in ${result.processes.length} Node process(es), ${result.wallMs} ms wall`);
    return result;
  } catch (error) {
    if ((error as Error).name === 'CancelledError') throw error;
    return { ok: false, reason: (error as Error).message, cached: false };
  }
}

/** The runner profiles a baseline run (the workspace with `base` laid over it) in its baseline sandbox and caches the summary. */
export function profileFromRunner(
  runner: RunnerRequests,
  workspace: string,
  storageRoot: string,
  config: RsiConfig,
  options: { base?: Overlay; hiddenEnv?: string[]; signal?: AbortSignal; log?: (message: string) => void } = {},
) {
  const { base = {}, hiddenEnv, signal, log } = options;
  return (key: string) =>
    runner.request('profile', { workspace, storageRoot, base, hiddenEnv, metric: metricSpec(config), key }, { signal, onEvent: (e) => e.kind === 'log' && log?.(e.message) });
}

/** The runner computes and caches the history: isomorphic-git stays out of the editor's process. */
export function historyFromRunner(runner: RunnerRequests, workspace: string, storageRoot: string, config: RsiConfig, signal?: AbortSignal) {
  return (paths: string[]) => runner.request('history', { workspace, storageRoot, commits: config.context.historyCommits, paths }, { signal });
}

/** A history that cannot be read leaves the insight out of the prompt; it never stops the cycle. */
async function gitInsight(sources: PromptSources): Promise<GitInsight | undefined> {
  try {
    const result = await sources.history(sources.targetFiles);
    if (result.commits > 0) sources.log(`git history: ${result.commits} commits, ${result.indexedNow} indexed now, in ${result.ms} ms`);
    return { window: sources.config.context.historyCommits, commits: result.commits, files: result.files };
  } catch (error) {
    if ((error as Error).name === 'CancelledError') throw error;
    sources.log(`git history left out of the prompt: ${(error as Error).message}`);
    return undefined;
  }
}

async function conventions({ workspace, config, log }: PromptSources): Promise<ContextInput['conventions']> {
  const name = config.context.conventions;
  if (!name) return undefined;
  const text = await readTextOrNull(path.join(workspace, name));
  if (text === null) log(`the conventions file ${name} (context.conventions in .rsi/config.json) does not exist`);
  return text === null ? undefined : { path: name, text };
}
