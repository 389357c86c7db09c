/**
 * A coding agent's working copy (runner/agentCopy.ts) on the generated 10k-file workspace: its cold
 * build, and the reset after an agent's run, against `git worktree add` (a worktree per run, what
 * worktree-based agent loops do) and against resetting a worktree in place.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { AgentWorkingCopy } from '../src/runner/agentCopy';
import { envInt, median, progress, timed, type Context, type Measurement, type Row } from './lib';
import { worktreeAdd } from './sandbox';
import { git, workspace } from './workspace';

/** What an agent's run leaves: 5 files edited, one deleted, a new file in a new directory. */
async function agentEdits(dir: string, files: string[], run: number): Promise<void> {
  const step = Math.floor(files.length / 7);
  for (let k = 0; k < 5; k++) await fs.appendFile(path.join(dir, files[k * step]!), `// run ${run}\n`);
  await fs.rm(path.join(dir, files[5 * step]!));
  await fs.mkdir(path.join(dir, 'notes'), { recursive: true });
  await fs.writeFile(path.join(dir, 'notes', 'idea.md'), `run ${run}\n`);
}

export const agentCopyBuild: Measurement = {
  name: 'agent working copy (10k tracked files of ~2 KB + 2k in node_modules)',
  how: 'cold build: AgentWorkingCopy.reset({}) in a fresh storage root vs `git worktree add --detach` + node_modules symlink, order alternating per repetition; reset after a run (5 files edited, 1 deleted, 1 new file in a new dir): takeChanges() + reset({}) vs a fresh `git worktree add` per run, and vs `git reset --hard -q && git clean -fdq` in one worktree, interleaved per iteration after the same edits.',
  async run(ctx: Context): Promise<Row[]> {
    const ws = await workspace(ctx);
    const reps = envInt('BENCH_AGENT_REPS', 3);
    const build: number[] = [], worktree: number[] = [];
    let copy: AgentWorkingCopy | undefined;
    for (let rep = 0; rep < reps; rep++) {
      const storage = await ctx.freshDir('agent-storage');
      const trees = await ctx.freshDir('agent-worktrees');
      const ours = async () => {
        copy = new AgentWorkingCopy(storage, ws.dir);
        build.push((await timed(() => copy!.reset({}))).ms);
      };
      const native = async () => worktree.push(await worktreeAdd(ws, path.join(trees, 'w')));
      if (rep % 2 === 0) await ours().then(native);
      else await native().then(ours);
      progress(`agent copy build ${rep + 1}/${reps}: ours ${(build.at(-1)! / 1000).toFixed(2)} s, worktree ${(worktree.at(-1)! / 1000).toFixed(2)} s`);
    }

    const runs = envInt('BENCH_AGENT_RESETS', 8);
    const reset: number[] = [], freshWorktree: number[] = [], inPlace: number[] = [];
    const trees = await ctx.freshDir('agent-reset-worktrees');
    const resetTree = path.join(trees, 'in-place');
    await worktreeAdd(ws, resetTree);
    let dir = await copy!.reset({});
    for (let run = 0; run < runs; run++) {
      await agentEdits(dir, ws.files, run);
      reset.push((await timed(async () => {
        const changes = await copy!.takeChanges();
        if (changes.length !== 7) throw new Error(`expected 7 changes, got ${changes.length}`);
        dir = await copy!.reset({});
      })).ms);
      freshWorktree.push(await worktreeAdd(ws, path.join(trees, `run-${run}`)));
      await agentEdits(resetTree, ws.files, run);
      inPlace.push((await timed(async () => {
        await git(resetTree, 'reset', '--hard', '-q');
        await git(resetTree, 'clean', '-fdq');
      })).ms);
    }
    progress(`agent copy reset: ${runs} runs`);
    const name = this.name;
    const row = (what: string, ours: number[], label: string, base: number[]): Row => ({
      measurement: name,
      what,
      ours: median(ours) / 1000,
      unit: 's',
      base: { label, value: median(base) / 1000 },
      ratio: median(ours) / median(base),
      n: ours.length,
    });
    return [
      row('cold build', build, 'git worktree add', worktree),
      row('reset after a run (takeChanges + reset)', reset, 'git worktree add', freshWorktree),
      row('reset after a run (takeChanges + reset)', reset, 'git reset --hard + clean', inPlace),
    ];
  },
};
