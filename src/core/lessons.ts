import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Method } from './stats';

/** Every way a candidate can end (DESIGN.md). */
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
  /** Lines that could not be read (other than a torn last line), with their line numbers. */
  skipped: number[];
}

/** Parses the log text. A torn last line (a crash mid-append) is skipped silently; other bad lines are reported. */
export function parseLessons(text: string): LessonLog {
  const log: LessonLog = { lessons: [], verdicts: new Map(), skipped: [] };
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: LessonRecord;
    try {
      record = JSON.parse(line) as LessonRecord;
    } catch {
      const isLast = lines.slice(index + 1).every((l) => l.trim() === '');
      if (!isLast) log.skipped.push(index + 1);
      return;
    }
    if (record?.v !== 1) {
      log.skipped.push(index + 1);
    } else if (record.type === 'verdict') {
      log.verdicts.set(record.lesson, record.verdict);
    } else {
      log.lessons.push(record);
    }
  });
  return log;
}

export async function readLessons(workspace: string): Promise<LessonLog> {
  try {
    return parseLessons(await fs.readFile(lessonsPath(workspace), 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { lessons: [], verdicts: new Map(), skipped: [] };
    throw err;
  }
}
