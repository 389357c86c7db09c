/**
 * Sandboxes on the generated 10k-file workspace: the cold build and the no-change sync of a
 * SandboxPool against `git worktree add --detach` (native git), and the per-candidate reset against
 * copying the same files with fs.copyFile.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Sandbox, SandboxPool } from '../src/runner/sandbox';
import { envInt, median, progress, timed, type Context, type Measurement, type Row } from './lib';
import { git, workspace, type Workspace } from './workspace';

/** Per-sandbox prepare times of the pool's next acquire, by instrumenting Sandbox.prepare. */
async function acquireTimed(pool: SandboxPool): Promise<{ total: number; perSandbox: number[]; copied: number }> {
  const perSandbox: number[] = [];
  const original = Sandbox.prototype.prepare;
  Sandbox.prototype.prepare = async function (this: Sandbox, ...args: Parameters<Sandbox['prepare']>) {
    const result = await original.apply(this, args);
    perSandbox.push(result.ms);
    return result;
  };
  try {
    const { ms, value } = await timed(() => pool.acquire({}));
    return { total: ms, perSandbox, copied: value.copied };
  } finally {
    Sandbox.prototype.prepare = original;
  }
}

/** What a worktree-based sandbox would do: a detached worktree plus the symlinked node_modules. */
export async function worktreeAdd(ws: Workspace, dir: string): Promise<number> {
  const { ms } = await timed(async () => {
    await git(ws.dir, 'worktree', 'add', '-q', '--detach', dir);
    await fs.symlink(path.join(ws.dir, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  });
  return ms;
}

/** A pool built on the workspace, kept for the reset measurement (built here if the build measurement did not run). */
function builtPool(ctx: Context, ws: Workspace, pool?: SandboxPool): Promise<SandboxPool> {
  return ctx.fixture('built-pool', async () => {
    if (pool) return pool;
    const fresh = new SandboxPool(await ctx.freshDir('storage'), ws.dir);
    ctx.onCleanup(() => fresh.release());
    await fresh.acquire({});
    return fresh;
  });
}

const seconds = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(', ') + ' s';

export const sandboxBuild: Measurement = {
  name: 'sandbox build (10k tracked files of ~2 KB + 2k in node_modules)',
  how: 'per repetition a fresh storage root and fresh worktree dirs (nothing deleted until the end: ext4 without journal); SandboxPool.acquire({}) builds a and b (per-sandbox from Sandbox.prepare), vs `git worktree add --detach` + node_modules symlink, twice (a and b); order alternates; then acquire again with no change vs `git status --porcelain` in both worktrees.',
  async run(ctx: Context): Promise<Row[]> {
    const ws = await workspace(ctx);
    const reps = envInt('BENCH_SANDBOX_REPS', 3);
    const build: number[] = [], perSandbox: number[] = [], scan: number[] = [], worktree: number[] = [], worktreePair: number[] = [];
    const sync: number[] = [], status: number[] = [];
    let pool: SandboxPool | undefined;
    for (let rep = 0; rep < reps; rep++) {
      const storage = await ctx.freshDir('storage');
      const trees = await ctx.freshDir('worktrees');
      const ours = async () => {
        pool = new SandboxPool(storage, ws.dir);
        const p = pool;
        ctx.onCleanup(() => p.release());
        const r = await acquireTimed(p);
        if (r.copied !== 2 * ws.files.length) throw new Error(`expected ${2 * ws.files.length} files copied, got ${r.copied}`);
        build.push(r.total);
        perSandbox.push(...r.perSandbox);
        scan.push(r.total - r.perSandbox.reduce((s, x) => s + x, 0));
        const link = await fs.lstat(path.join(storage, (await fs.readdir(storage))[0]!, 'a', 'tree', 'node_modules'));
        if (!link.isSymbolicLink()) throw new Error('node_modules in the sandbox is not a symlink');
      };
      const native = async () => {
        const a = await worktreeAdd(ws, path.join(trees, 'a'));
        const b = await worktreeAdd(ws, path.join(trees, 'b'));
        worktree.push(a, b);
        worktreePair.push(a + b);
      };
      if (rep % 2 === 0) await ours().then(native);
      else await native().then(ours);
      sync.push((await acquireTimed(pool!)).total);
      status.push((await timed(async () => {
        for (const side of ['a', 'b']) await git(path.join(trees, side), 'status', '--porcelain');
      })).ms);
      progress(`sandbox build ${rep + 1}/${reps}: pool ${(build.at(-1)! / 1000).toFixed(2)} s, 2 worktrees ${(worktreePair.at(-1)! / 1000).toFixed(2)} s`);
    }
    await builtPool(ctx, ws, pool);
    const spread = Math.max(...build) / Math.min(...build);
    const name = this.name;
    const row = (what: string, ours: number[], base: { label: string; values: number[] } | undefined, note?: string): Row => ({
      measurement: name,
      what,
      ours: median(ours) / 1000,
      unit: 's',
      ...(base && { base: { label: base.label, value: median(base.values) / 1000 }, ratio: median(ours) / median(base.values) }),
      n: ours.length,
      ...(note && { note }),
    });
    return [
      row('cold build, both sandboxes (acquire)', build, { label: '2 worktree adds', values: worktreePair }, `reps ${seconds(build)}${spread > 2 ? '; SPREAD >2x: disk affected?' : ''}`),
      row('cold build, one sandbox', perSandbox, { label: '1 worktree add', values: worktree }, 'a and b of every rep'),
      row('  of which workspace scan (ls-files + lstat)', scan, undefined),
      row('no-change sync, both (acquire again)', sync, { label: '2x git status', values: status }),
    ];
  },
};

export const sandboxReset: Measurement = {
  name: 'per-candidate sandbox reset (5 files)',
  how: 'in-process on sandbox b of the 10k-file pool, interleaved per iteration: applyCandidate(5 changed files) right after another 5-file candidate (restore 5 + write 5), reset() alone (restore 5), and fs.copyFile of the same 5 files over existing copies (the floor of restoring); 3 warm-ups discarded.',
  async run(ctx: Context): Promise<Row[]> {
    const ws = await workspace(ctx);
    const pool = await builtPool(ctx, ws);
    const { b } = await pool.acquire({});
    const n = envInt('BENCH_RESET_RUNS', 50);
    const step = Math.floor(ws.files.length / 5);
    const five = [0, 1, 2, 3, 4].map((k) => ws.files[k * step + k]!);
    const originals = await Promise.all(five.map((rel) => fs.readFile(path.join(ws.dir, rel), 'utf8')));
    const candidate = (i: number) => Object.fromEntries(five.map((rel, k) => [rel, `${originals[k]}// candidate ${i}\n`]));
    const floorDir = await ctx.freshDir('copy-floor');
    const copyFive = async () => {
      for (const [k, rel] of five.entries()) await fs.copyFile(path.join(ws.dir, rel), path.join(floorDir, `f${k}.js`));
    };
    await copyFive();
    const apply: number[] = [], reset: number[] = [], copy: number[] = [];
    await b.applyCandidate(candidate(-1));
    for (let i = -3; i < n; i++) {
      const a = await timed(() => b.applyCandidate(candidate(2 * i)));
      const c = await timed(copyFive);
      const r = await timed(() => b.reset());
      await b.applyCandidate(candidate(2 * i + 1));
      if (i >= 0) apply.push(a.ms), copy.push(c.ms), reset.push(r.ms);
    }
    await b.reset();
    for (const [k, rel] of five.entries()) {
      if ((await fs.readFile(path.join(b.dir, rel), 'utf8')) !== originals[k]) throw new Error(`reset left ${rel} different from the base`);
    }
    progress(`sandbox reset: ${n} iterations`);
    const row = (what: string, ours: number[]): Row => ({
      measurement: this.name,
      what,
      ours: median(ours),
      unit: 'ms',
      base: { label: 'copyFile x5', value: median(copy) },
      ratio: median(ours) / median(copy),
      n,
    });
    return [row('applyCandidate after a candidate (restore 5 + write 5)', apply), row('reset() (restore 5)', reset)];
  },
};
