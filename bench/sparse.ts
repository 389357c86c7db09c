/**
 * A sparse file in the workspace: what its copy into a sandbox costs in disk and time, against
 * fs.copyFile of the same file (what the sandbox did before, and writes the holes out as zeros).
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Sandbox } from '../src/runner/sandbox';
import { envInt, median, MiB, progress, timed, type Context, type Measurement, type Row } from './lib';

const SIZE = 1024 * MiB;

export const sparseCopy: Measurement = {
  name: 'sparse file in the workspace (1 GiB, 4 blocks of data)',
  how: 'a workspace (no git) holding one file made by truncate to 1 GiB and 4 writes of 4 KiB; per repetition, interleaved: Sandbox.prepare into a fresh sandbox (ours: the whole build, scan included) vs fs.copyFile into a fresh dir; disk = st.blocks * 512 of the copy.',
  async run(ctx: Context): Promise<Row[]> {
    const ws = await ctx.freshDir('sparse-ws');
    const file = path.join(ws, 'disk.img');
    const handle = await fs.open(file, 'w');
    await handle.truncate(SIZE);
    for (const at of [0, SIZE / 4, SIZE / 2, SIZE - 4096]) await handle.write(Buffer.alloc(4096, 1), 0, 4096, at);
    await handle.close();
    const source = await fs.stat(file);
    const reps = envInt('BENCH_SPARSE_REPS', 3);
    const ours: number[] = [], base: number[] = [];
    let oursDisk = 0, baseDisk = 0;
    for (let rep = 0; rep < reps; rep++) {
      const sandbox = async () => {
        const home = await ctx.freshDir('sparse-sandbox');
        ours.push((await timed(() => new Sandbox(home).prepare(ws, {}))).ms);
        oursDisk = (await fs.stat(path.join(home, 'tree', 'disk.img'))).blocks * 512;
      };
      const copyFile = async () => {
        const copy = path.join(await ctx.freshDir('sparse-copy'), 'disk.img');
        base.push((await timed(() => fs.copyFile(file, copy))).ms);
        baseDisk = (await fs.stat(copy)).blocks * 512;
        await fs.rm(copy); // a GiB of disk per repetition otherwise
      };
      if (rep % 2 === 0) await sandbox().then(copyFile);
      else await copyFile().then(sandbox);
      progress(`sparse copy ${rep + 1}/${reps}: sandbox ${ours.at(-1)!.toFixed(0)} ms, copyFile ${base.at(-1)!.toFixed(0)} ms`);
    }
    const row = (what: string, value: number, baseValue: number, unit: string, note?: string): Row => ({
      measurement: this.name,
      what,
      ours: value,
      unit,
      base: { label: 'fs.copyFile', value: baseValue },
      ratio: value / baseValue,
      ...(note && { note }),
    });
    return [
      row('disk used by the copy', oursDisk / MiB, baseDisk / MiB, 'MiB', `the workspace's file uses ${(source.blocks * 512) / 1024} KiB`),
      { ...row('copy time', median(ours) / 1000, median(base) / 1000, 's'), n: reps },
    ];
  },
};
