/**
 * `rsi lessons` on a 50 MB lessons file, against `cat` of the same file: time to the first byte,
 * time to the end through a pipe, and peak RSS of the process tree (the listing streams, so its
 * memory should stay flat however long the file).
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { execCommand } from '../src/process/exec';
import { envInt, median, MiB, progress, type Context, type Measurement, type Row } from './lib';

const CLI = path.resolve(__dirname, '..', 'dist', 'cli.js');

async function lessonsFile(ctx: Context, megabytes: number): Promise<string> {
  const dir = await ctx.freshDir('lessons-50mb');
  await fs.mkdir(path.join(dir, '.rsi'));
  const file = await fs.open(path.join(dir, '.rsi', 'lessons.jsonl'), 'w');
  let size = 0;
  for (let i = 0; size < megabytes * MiB; i++) {
    const lesson = {
      v: 1, id: `l${i}`, time: '2026-12-01T00:00:00.000Z', cycle: 1 + (i >> 2), proposer: 'tuner', hypothesis: `THRESHOLD ${i % 64} -> ${(i + 7) % 64} (sort.js)`,
      files: ['sort.js'], patch: `--- a/sort.js\n+++ b/sort.js\n@@ -1,3 +1,3 @@\n${'-const THRESHOLD = 16;\n'.repeat(40)}`, patchHash: `h${i}`, outcome: 'no-effect', durationMs: 812,
      metric: { name: 'cpuTime', direction: 'minimize', baseline: { median: 212.5, n: 14 }, candidate: { median: 211.9, n: 14 }, change: -0.003, ci: [-0.02, 0.015], p: 0.61 },
    };
    const line = JSON.stringify(lesson) + '\n' + (i % 10 === 0 ? JSON.stringify({ v: 1, type: 'verdict', lesson: `l${i}`, verdict: 'rejected' }) + '\n' : '');
    await file.write(line);
    size += Buffer.byteLength(line);
  }
  await file.close();
  return dir;
}

/** Milliseconds from spawn to the first byte on a pipe. */
function firstByteMs(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    child.once('error', reject);
    child.stdout.once('data', () => {
      resolve(performance.now() - started);
      child.kill();
    });
  });
}

export const lessonsListing: Measurement = {
  name: 'rsi lessons on a 50 MB file',
  how: '`node dist/cli.js lessons [--json]` vs `cat` of the same .rsi/lessons.jsonl, alternating: first byte on a pipe (spawn to first data event); whole run as `CMD | cat > /dev/null` (wall time and peak RSS of the process tree, the runner\'s own sampling).',
  async run(ctx: Context): Promise<Row[]> {
    const n = envInt('BENCH_LESSONS_RUNS', 5);
    const dir = await lessonsFile(ctx, 50);
    const file = path.join(dir, '.rsi', 'lessons.jsonl');
    const ours = { text: [process.execPath, CLI, 'lessons', '--workspace', dir], json: [process.execPath, CLI, 'lessons', '--json', '--workspace', dir] };
    const cat = ['cat', file];
    const whole = async (argv: string[]) => {
      const quoted = argv.map((a) => `'${a}'`).join(' ');
      const result = await execCommand({ command: `${quoted} | cat > /dev/null`, cwd: dir, timeoutMs: 300_000, outputBytes: 4096 });
      if (result.exitCode !== 0) throw new Error(`${quoted} failed: ${result.stderr}`);
      return { ms: result.wallMs, rss: result.peakRssBytes };
    };
    const samples = { first: { text: [] as number[], json: [] as number[], cat: [] as number[] }, whole: { text: [] as { ms: number; rss: number }[], json: [] as { ms: number; rss: number }[], cat: [] as { ms: number; rss: number }[] } };
    for (let i = 0; i < n; i++) {
      samples.first.cat.push(await firstByteMs(cat));
      samples.first.text.push(await firstByteMs(ours.text));
      samples.first.json.push(await firstByteMs(ours.json));
      samples.whole.cat.push(await whole(cat));
      samples.whole.text.push(await whole(ours.text));
      samples.whole.json.push(await whole(ours.json));
    }
    progress(`rsi lessons: ${n} runs each on ${(await fs.stat(file)).size} bytes`);
    ctx.raw.lessonsListing = samples;
    const catMs = median(samples.whole.cat.map((s) => s.ms));
    const catRss = median(samples.whole.cat.map((s) => s.rss));
    const catFirst = median(samples.first.cat);
    const rows: Row[] = [];
    for (const kind of ['text', 'json'] as const) {
      const label = kind === 'text' ? 'rsi lessons' : 'rsi lessons --json';
      const first = median(samples.first[kind]);
      const ms = median(samples.whole[kind].map((s) => s.ms));
      const rss = median(samples.whole[kind].map((s) => s.rss));
      rows.push(
        { measurement: this.name, what: `${label}: first byte`, ours: first, unit: 'ms', base: { label: 'cat', value: catFirst }, ratio: first / catFirst, n },
        { measurement: this.name, what: `${label}: whole file through a pipe`, ours: ms, unit: 'ms', base: { label: 'cat', value: catMs }, ratio: ms / catMs, n },
        { measurement: this.name, what: `${label}: peak RSS of the tree`, ours: rss / MiB, unit: 'MiB', base: { label: 'cat', value: catRss / MiB }, ratio: rss / catRss, n },
      );
    }
    return rows;
  },
};
