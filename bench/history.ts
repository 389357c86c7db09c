/**
 * Git history index (issue 4) on a generated repository of 10k files and 300 commits: the runner's
 * `history` request cold (no cache, fresh runner) and incremental (one new commit; HEAD unchanged),
 * against native `git log --name-only -n 300` in the same run.
 */
import { execFile, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { seededRandom } from '../src/core/random';
import { RunnerClient } from '../src/runner/client';
import { CACHE_FILE } from '../src/runner/history';
import { workspaceStorage } from '../src/runner/sandbox';
import { envInt, median, MiB, procRss, progress, timed, type Context, type Measurement, type Row } from './lib';
import { RUNNER_PATH } from './runner';

const run = promisify(execFile);
const FILES = 10_000;
const COMMITS = 300;
const DAY_S = 86_400;
/** USER_HZ: /proc reports CPU times in these ticks (100 on Linux builds). */
const CLOCK_TICKS = 100;

interface Repo {
  dir: string;
  /** Seconds since the epoch of the newest commit; new commits come after it. */
  lastTime: number;
}

/** The tracked paths: src/dA/dB/fN.js, 10 x 10 directories of 100 files. */
const filePath = (i: number) => `src/d${i % 10}/d${Math.floor(i / 10) % 10}/f${i}.js`;

function data(text: string): string {
  return `data ${Buffer.byteLength(text)}\n${text}\n`;
}

/** One fast-import commit on refs/heads/main changing `files` (index -> content). */
function commitStream(mark: number, time: number, message: string, files: Map<number, string>, from?: string): string {
  const lines = [`commit refs/heads/main\nmark :${mark}\ncommitter Bench <bench@example.invalid> ${time} +0000\n${data(message)}`];
  if (from) lines.push(`from ${from}\n`);
  for (const [i, content] of files) lines.push(`M 100644 inline ${filePath(i)}\n${data(content)}`);
  return lines.join('');
}

function fastImport(dir: string, stream: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['fast-import', '--quiet'], { cwd: dir, stdio: ['pipe', 'ignore', 'inherit'] });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git fast-import exited with ${code}`))));
    child.stdin.end(stream);
  });
}

/**
 * 300 commits over ~600 days: the first adds every file, each later one changes 1-20 files
 * (seeded), one in six with a fix/revert message. Files of ~300 bytes: neither side reads blobs.
 */
function generatedRepo(ctx: Context): Promise<Repo> {
  return ctx.fixture('history-repo', async () => {
    const dir = await ctx.freshDir('history-repo');
    const { ms } = await timed(async () => {
      await run('git', ['init', '-q', '-b', 'main'], { cwd: dir });
      const random = seededRandom(0x4157);
      const start = Math.floor(Date.now() / 1000) - 600 * DAY_S;
      const content = (i: number, version: number) => `// ${filePath(i)} v${version}\n` + `export const f${i} = ${version};\n`.repeat(8);
      const all = new Map(Array.from({ length: FILES }, (_, i) => [i, content(i, 0)] as const));
      const stream = [commitStream(1, start, 'import the project', all)];
      for (let c = 2; c <= COMMITS; c++) {
        const changed = new Map<number, string>();
        const count = 1 + Math.floor(random() * 20);
        while (changed.size < count) {
          const i = Math.floor(random() * FILES);
          changed.set(i, content(i, c));
        }
        const message = random() < 1 / 6 ? `fix: edge case ${c}` : `change ${c}`;
        stream.push(commitStream(c, start + c * 2 * DAY_S, message, changed, `:${c - 1}`));
      }
      await fastImport(dir, stream.join(''));
    });
    progress(`history repo: ${FILES} files, ${COMMITS} commits (git fast-import) in ${(ms / 1000).toFixed(1)} s`);
    return { dir, lastTime: Math.floor(Date.now() / 1000) };
  });
}

async function addCommit(repo: Repo, n: number): Promise<void> {
  const head = (await run('git', ['rev-parse', 'HEAD'], { cwd: repo.dir })).stdout.trim();
  const i = (n * 7919) % FILES;
  await fastImport(repo.dir, commitStream(1, ++repo.lastTime, `bench commit ${n}`, new Map([[i, `// bench ${n}\n`]]), head));
}

/** CPU time (user + system) a live process has used, from /proc; NaN off Linux. */
function procCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

async function nativeLog(dir: string): Promise<number> {
  const { ms } = await timed(() => run('git', ['log', '--name-only', '-n', String(COMMITS)], { cwd: dir, maxBuffer: 1 << 28 }));
  return ms;
}

export const historyIndex: Measurement = {
  name: `git history index (${FILES / 1000}k files, ${COMMITS} commits)`,
  how:
    `runner \`history\` request (isomorphic-git, first-parent, ${COMMITS} commits) timed at the client. Cold: a fresh runner ` +
    '(ping first: the fork is not counted, loading dist/history.js is) and no cache file. Incremental: the same runner after one ' +
    'new commit (indexedNow = 1), and with HEAD unchanged. Baseline: native `git log --name-only -n 300`, interleaved with ours. ' +
    'CPU: /proc utime + stime of the runner over the cold request. RSS: /proc VmRSS of the runner after the cold request vs after ping.',
  async run(ctx: Context): Promise<Row[]> {
    const repo = await generatedRepo(ctx);
    const storageRoot = await ctx.freshDir('history-storage');
    const cacheFile = path.join(await workspaceStorage(storageRoot, repo.dir), CACHE_FILE);
    const reps = envInt('BENCH_HISTORY_REPS', 5);
    const cold: number[] = [], coldCpu: number[] = [], coldRss: number[] = [], startRss: number[] = [], incremental: number[] = [], unchanged: number[] = [], native: number[] = [];
    let commits = 0;
    await nativeLog(repo.dir); // warm the page cache for both sides
    for (let rep = 0; rep < reps; rep++) {
      await fs.rm(cacheFile, { force: true });
      const runner = new RunnerClient({ runnerPath: RUNNER_PATH, log: progress });
      try {
        const { pid } = await runner.request('ping', {});
        startRss.push(procRss(pid) ?? NaN);
        native.push(await nativeLog(repo.dir));
        const cpuBefore = procCpuMs(pid);
        const first = await timed(() => runner.request('history', { workspace: repo.dir, storageRoot, commits: COMMITS }));
        cold.push(first.ms);
        coldCpu.push(procCpuMs(pid) - cpuBefore);
        commits = first.value.commits;
        coldRss.push(procRss(pid) ?? NaN);
        native.push(await nativeLog(repo.dir));
        await addCommit(repo, rep);
        const next = await timed(() => runner.request('history', { workspace: repo.dir, storageRoot, commits: COMMITS }));
        if (next.value.indexedNow !== 1) throw new Error(`expected one commit indexed, got ${next.value.indexedNow}`);
        incremental.push(next.ms);
        native.push(await nativeLog(repo.dir));
        unchanged.push((await timed(() => runner.request('history', { workspace: repo.dir, storageRoot, commits: COMMITS }))).ms);
      } finally {
        await runner.dispose();
      }
      progress(`history: rep ${rep + 1}/${reps}, cold ${cold[rep]!.toFixed(0)} ms, incremental ${incremental[rep]!.toFixed(1)} ms`);
    }
    const base = { label: 'git log --name-only -n 300', value: median(native) };
    const row = (what: string, xs: number[], note?: string): Row => ({
      measurement: this.name, what, ours: median(xs), unit: 'ms', base, ratio: median(xs) / base.value, n: xs.length, ...(note && { note }),
    });
    return [
      row('cold index', cold, `${commits} commits, fresh runner, module load included`),
      { measurement: this.name, what: 'cold index, runner CPU time', ours: median(coldCpu), unit: 'ms', n: reps, note: 'wall less waiting for a CPU' },
      row('incremental, one new commit', incremental),
      row('HEAD unchanged', unchanged),
      {
        measurement: this.name,
        what: 'runner RSS after the cold index',
        ours: median(coldRss) / MiB,
        unit: 'MiB',
        base: { label: 'after ping', value: median(startRss) / MiB },
        ratio: median(coldRss) / median(startRss),
        n: reps,
      },
    ];
  },
};
