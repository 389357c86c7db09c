/**
 * Shared pieces of `npm run bench`: the row format every measurement returns, the context they
 * share (a temp root, fixtures built once, cleanup at the very end), timing helpers and the table.
 */
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from '../src/core/stats';

export { median };

/**
 * One line of the report. `ours` is what RSI Loop does; `base` is the reference measured in the
 * same run (bare node, native tools, a naive harness), and `ratio` = ours / base when both are
 * quantities of the same kind. Absolute figures are only meaningful next to their base.
 */
export interface Row {
  measurement: string;
  what: string;
  ours: number;
  unit: string;
  base?: { label: string; value: number };
  ratio?: number;
  /** Samples behind `ours` (medians of n). */
  n?: number;
  note?: string;
}

export interface Measurement {
  name: string;
  /** How it is measured, printed above its rows. */
  how: string;
  run(ctx: Context): Promise<Row[]>;
}

/** What measurements share: a temp root deleted at the very end, and fixtures built at most once. */
export class Context {
  private readonly fixtures = new Map<string, Promise<unknown>>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  private dirs = 0;
  /** Raw data measurements leave for the JSON results (samples behind a median, for later analysis). */
  readonly raw: Record<string, unknown> = {};

  constructor(readonly root: string) {}

  static async create(): Promise<Context> {
    return new Context(await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-bench-')));
  }

  /** A new, empty directory under the root: never reuse a deleted one (ext4 creates slowly where many entries were deleted). */
  async freshDir(label: string): Promise<string> {
    const dir = path.join(this.root, `${label}-${++this.dirs}`);
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  /** Build a fixture once per run, whichever measurement asks first. */
  fixture<T>(key: string, build: () => Promise<T>): Promise<T> {
    let fixture = this.fixtures.get(key) as Promise<T> | undefined;
    if (!fixture) this.fixtures.set(key, (fixture = build()));
    return fixture;
  }

  /** Run at the very end, latest first (before the root is deleted). */
  onCleanup(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  async dispose(keepFiles = false): Promise<void> {
    for (const fn of this.cleanups.reverse()) await fn().catch((error: unknown) => progress(`cleanup: ${(error as Error).message}`));
    if (!keepFiles) await fs.rm(this.root, { recursive: true, force: true });
  }
}

/** Progress goes to stderr; the table to stdout. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
}

export function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

export const MiB = 1024 * 1024;

/** VmRSS of a live process from /proc, in bytes; undefined off Linux or when it is gone. */
export function procRss(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'latin1');
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(status);
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Robust spread: 1.4826 * median absolute deviation / median (equals the CV for a normal sample). */
export function robustCv(xs: number[]): number {
  const m = median(xs);
  return (1.4826 * median(xs.map((x) => Math.abs(x - m)))) / m;
}

export function coefficientOfVariation(xs: number[]): number {
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return Math.sqrt(variance) / mean;
}

function fmt(value: number, unit: string): string {
  if (unit === '%') return `${(value * 100).toFixed(1)}%`;
  if (unit === 'x') return `${value.toFixed(2)}x`;
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit ? ' ' + unit : ''}`;
}

/** The report as a plain-text table, grouped by measurement, each group headed by how it was measured. */
export function formatTable(measurements: { name: string; how: string; rows: Row[] }[]): string {
  const header = ['what', 'ours', 'baseline (same run)', 'ratio', 'n'];
  const lines: string[] = [];
  for (const m of measurements) {
    const cells = m.rows.map((r) => [
      r.what + (r.note ? ` (${r.note})` : ''),
      fmt(r.ours, r.unit),
      r.base ? `${fmt(r.base.value, r.unit)} ${r.base.label}` : '',
      r.ratio === undefined ? '' : fmt(r.ratio, 'x'),
      r.n === undefined ? '' : String(r.n),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
    const line = (c: string[]) => '| ' + c.map((x, i) => (i === 0 || i === 2 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ') + ' |';
    lines.push('', `## ${m.name}`, m.how, line(header), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...cells.map(line));
  }
  return lines.join('\n');
}
