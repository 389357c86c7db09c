import { createReadStream, promises as fs } from 'node:fs';
import { createInterface } from 'node:readline';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Method } from './stats';

/** Every way a candidate can end (README, "Lessons"). */
export const OUTCOMES = [
  'kept', 'regressed', 'no-effect', 'gate-failed', 'crashed', 'timeout', 'memory-exceeded', 'invalid', 'duplicate',
] as const;
export type Outcome = (typeof OUTCOMES)[number];

export type Direction = 'maximize' | 'minimize';

export interface SideSummary {
  median: number;
  n: number;
}

export interface LessonMetric {
  name: string;
  direction: Direction;
  baseline: SideSummary;
  candidate: SideSummary;
  /** Relative shift of the candidate against the baseline, signed: (candidate - baseline) / |baseline|. */
  change: number;
  /** Confidence interval of `change`. */
  ci: [number, number];
  p: number;
  /** Confidence level of `ci` (1 - alpha); the interval is valid at every look of the sequential test. */
  level?: number;
  /** How `change` was computed (stats.ts Method): paired-log, paired-relative or exact. */
  method?: Method;
  /** The noise floor the decision used. */
  floor?: number;
  /** Pairs of each phase: [measure] or [measure, re-test]. */
  phases?: number[];
  /** Every run of the decision, both phases, in the order they ran (pair i = baseline[i], candidate[i]). */
  runs?: { baseline: number[]; candidate: number[] };
}

/** One attempt, as one line of `.rsi/lessons.jsonl`. */
export interface Lesson {
  v: 1;
  type?: 'lesson';
  id: string;
  time: string;
  cycle: number;
  proposer: string;
  hypothesis: string;
  files: string[];
  /** Unified diff against the cycle's baseline. */
  patch: string;
  patchHash: string;
  outcome: Outcome;
  metric?: LessonMetric;
  detail?: string;
  durationMs: number;
  /** The tuner's seed, so a run can be replayed. */
  seed?: number;
  /** The tuner's parameter values, keyed "file:name". */
  params?: Record<string, number>;
  /**
   * Earlier winners of the same run that the baseline was measured with but the workspace's files
   * did not hold (a pending proposal), oldest first; absent when the baseline was the files as they were.
   */
  baseWinners?: string[];
  /** A combination of kept candidates of one cycle: their lesson ids, the winner first. */
  parents?: string[];
  /** The machine that measured it, when evaluations are spread over workers (`host/pid`). */
  worker?: string;
}

export interface Verdict {
  v: 1;
  type: 'verdict';
  lesson: string;
  verdict: 'accepted' | 'rejected';
  time?: string;
}

export type LessonRecord = Lesson | Verdict;

export const LESSONS_FILE = path.join('.rsi', 'lessons.jsonl');

export function newLessonId(): string {
  return randomUUID();
}

export function lessonsPath(workspace: string): string {
  return path.join(workspace, LESSONS_FILE);
}

/** Appends records; one write call so a crash leaves at most a torn last line, never a torn middle. */
export async function appendRecords(workspace: string, records: LessonRecord[]): Promise<void> {
  if (records.length === 0) return;
  const file = lessonsPath(workspace);
  await fs.mkdir(path.dirname(file), { recursive: true });
  // A torn last line from a crash must not swallow the next record: start on a fresh line.
  let prefix = '';
  try {
    const handle = await fs.open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await handle.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) prefix = '\n';
      }
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.appendFile(file, prefix + records.map((r) => JSON.stringify(r)).join('\n') + '\n');
}

export interface LessonLog {
  lessons: Lesson[];
  verdicts: Map<string, Verdict['verdict']>;
  /** Lines that could not be read, or hold a record of the wrong shape (not a torn last line), by line number. */
  skipped: number[];
}

/** A line of the log: a record, a blank, or one that cannot be used (bad JSON or the wrong shape). */
export type ParsedLine = { record: LessonRecord } | { blank: true } | { bad: 'json' | 'shape' };

const isString = (x: unknown): x is string => typeof x === 'string';
const isNumber = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * The fields every reader relies on are checked here, once: a record of another shape (written by
 * hand, or by another tool) is skipped and reported instead of crashing a reader far away.
 */
function isRecord(r: unknown): r is LessonRecord {
  const x = r as Record<string, unknown> | null;
  if (typeof x !== 'object' || x === null || x.v !== 1) return false;
  if (x.type === 'verdict') return isString(x.lesson) && (x.verdict === 'accepted' || x.verdict === 'rejected');
  if (x.type !== undefined && x.type !== 'lesson') return false;
  const m = x.metric as Record<string, unknown> | undefined;
  const metricOk =
    m === undefined ||
    (typeof m === 'object' && m !== null && isNumber(m.change) && Array.isArray(m.ci) && m.ci.length === 2 && m.ci.every(isNumber) &&
      isNumber(m.p) && isNumber((m.baseline as SideSummary | undefined)?.median) && isNumber((m.candidate as SideSummary | undefined)?.median));
  return (
    isString(x.id) && isString(x.hypothesis) && Number.isInteger(x.cycle) && (OUTCOMES as readonly unknown[]).includes(x.outcome) &&
    Array.isArray(x.files) && x.files.every(isString) && isString(x.patch) && isString(x.patchHash) && metricOk &&
    (x.detail === undefined || isString(x.detail))
  );
}

export function parseLine(line: string): ParsedLine {
  if (line.trim() === '') return { blank: true };
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return { bad: 'json' };
  }
  return isRecord(record) ? { record } : { bad: 'shape' };
}

/**
 * Collects records line by line. A torn last line (a crash mid-append) is skipped silently: a line
 * that is not JSON is reported only once a later line shows it was not the last.
 */
class LogReader {
  readonly log: LessonLog = { lessons: [], verdicts: new Map(), skipped: [] };
  private lineNo = 0;
  private unparsed: number | undefined;

  /** The record of this line, if it is one (verdicts are also collected into the log). */
  add(line: string, keepLessons = true): LessonRecord | undefined {
    this.lineNo++;
    const parsed = parseLine(line);
    if ('blank' in parsed) return undefined;
    if (this.unparsed !== undefined) this.log.skipped.push(this.unparsed);
    this.unparsed = undefined;
    if ('bad' in parsed) {
      if (parsed.bad === 'json') this.unparsed = this.lineNo;
      else this.log.skipped.push(this.lineNo);
      return undefined;
    }
    const { record } = parsed;
    if (record.type === 'verdict') this.log.verdicts.set(record.lesson, record.verdict);
    else if (keepLessons) this.log.lessons.push(record);
    return record;
  }
}

/** Parses the log text. A torn last line (a crash mid-append) is skipped silently; other bad lines are reported. */
export function parseLessons(text: string): LessonLog {
  const reader = new LogReader();
  for (const line of text.split('\n')) reader.add(line);
  return reader.log;
}

export async function readLessons(workspace: string): Promise<LessonLog> {
  try {
    return parseLessons(await fs.readFile(lessonsPath(workspace), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lessons: [], verdicts: new Map(), skipped: [] };
    throw err;
  }
}

/**
 * Reads the log one line at a time, handing each lesson to `onLesson` (which may wait, e.g. for a
 * pipe to drain) with its line as written, instead of keeping it: memory stays flat however long
 * the file. Resolves to the verdicts and skipped lines.
 */
export async function streamLessons(workspace: string, onLesson: (lesson: Lesson, line: string) => void | Promise<void>): Promise<Omit<LessonLog, 'lessons'>> {
  return scan(workspace, () => true, onLesson);
}

/** The verdicts alone, quickly: only lines that look like verdicts are parsed. */
export async function readVerdicts(workspace: string): Promise<LessonLog['verdicts']> {
  return (await scan(workspace, (line) => VERDICT_LINE.test(line), () => undefined)).verdicts;
}

const VERDICT_LINE = /"type"\s*:\s*"verdict"/;

async function scan(workspace: string, wanted: (line: string) => boolean, onLesson: (lesson: Lesson, line: string) => void | Promise<void>): Promise<Omit<LessonLog, 'lessons'>> {
  const reader = new LogReader();
  let input;
  try {
    input = createReadStream(lessonsPath(workspace), { encoding: 'utf8' });
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      const record = reader.add(wanted(line) ? line : '', false);
      if (record && record.type !== 'verdict') await onLesson(record, line);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  } finally {
    input?.destroy();
  }
  return { verdicts: reader.log.verdicts, skipped: reader.log.skipped };
}
