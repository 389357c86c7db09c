/**
 * The engine over a long headless run: `runCycles` in this process on a workspace whose metric is
 * a shell one-liner (deterministic, a few ms), so the cycles are the engine's work and not the
 * benchmark's. After every cycle a full GC, then the live heap and the RSS, and the runner's RSS
 * (its own ping); the figures are the growth after the first 10 cycles, as a slope (least squares)
 * and a total.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCycles } from '../src/core/cycle';
import { LocalEvaluator } from '../src/evaluation/local';
import { RunnerClient } from '../src/runner/client';
import { envInt, MiB, progress, type Context, type Measurement, type Row } from './lib';
import { RUNNER_PATH } from './runner';

const WARM_UP = 10;

/** Least-squares slope of ys over their indices. */
function slope(ys: number[]): number {
  const n = ys.length;
  const mx = (n - 1) / 2;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let num = 0, den = 0;
  ys.forEach((y, x) => {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  });
  return den === 0 ? 0 : num / den;
}

export const longRun: Measurement = {
  name: 'engine memory over a long run',
  how: `runCycles(N) in-process (node --expose-gc), tuner on two wide integer parameters of a shell metric; after each cycle gc() then heapUsed and RSS, and the runner's RSS by a ping (no gc there: what recycling sees). Growth is measured from cycle ${WARM_UP} to N: slope in kB a cycle and total, beside the level after the first ${WARM_UP} cycles.`,
  async run(ctx: Context): Promise<Row[]> {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error('run the bench with node --expose-gc (npm run bench does)');
    const cycles = envInt('BENCH_CYCLES', 500);
    const ws = await ctx.freshDir('long-run');
    await fs.mkdir(path.join(ws, '.rsi'));
    await fs.writeFile(path.join(ws, 'params.sh'), 'X=500 # rsi: int 1..100000\nY=500 # rsi: int 1..100000\n');
    await fs.writeFile(
      path.join(ws, '.rsi', 'config.json'),
      JSON.stringify({
        metric: { name: 'score', command: `. ./params.sh; echo "{\\"score\\": $(( -(X - 77777) * (X - 77777) - (Y - 33333) * (Y - 33333) ))}"`, read: { json: 'score' }, direction: 'maximize' },
        targets: ['params.sh'],
        candidates: 4,
      }),
    );
    const runner = new RunnerClient({ runnerPath: RUNNER_PATH });
    const heap: number[] = [];
    const rss: number[] = [];
    const runnerRss: number[] = [];
    let runnerPid: number | undefined;
    let restarts = 0;
    // Sent as each cycle ends: the runner answers at once, between the next cycle's requests.
    const ping = () =>
      runner.request('ping', {}).then(({ pid, rssBytes }) => {
        if (runnerPid !== undefined && pid !== runnerPid) restarts++;
        runnerPid = pid;
        runnerRss.push(rssBytes);
      }, () => undefined);
    let pinged = Promise.resolve();
    const storageRoot = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-bench-longrun-'));
    try {
      await runCycles(
        {
          workspace: ws,
          runner,
          evaluator: new LocalEvaluator(runner, { workspace: ws, storageRoot }),
          storageRoot,
          onEvent: (event) => {
            if (event.kind !== 'cycle') return;
            gc();
            heap.push(process.memoryUsage().heapUsed);
            rss.push(process.memoryUsage.rss());
            pinged = ping();
            if (heap.length % 50 === 0) progress(`long run: ${heap.length}/${cycles} cycles, heap ${(heap.at(-1)! / MiB).toFixed(1)} MiB`);
          },
        },
        cycles,
      );
      await pinged;
    } finally {
      await runner.dispose();
    }
    ctx.raw.longRun = { heap, rss, runnerRss, restarts };
    const after = (xs: number[]) => xs.slice(WARM_UP - 1);
    const rows = (label: string, xs: number[], note = ''): Row[] => [
      { measurement: this.name, what: `${label}: growth a cycle after cycle ${WARM_UP}`, ours: slope(after(xs)) / 1024, unit: 'kB', n: xs.length },
      {
        measurement: this.name,
        what: `${label}: cycle ${WARM_UP} -> ${xs.length}`,
        ours: xs.at(-1)! / MiB,
        unit: 'MiB',
        base: { label: `at cycle ${WARM_UP}`, value: xs[WARM_UP - 1]! / MiB },
        ratio: xs.at(-1)! / xs[WARM_UP - 1]!,
        note: `total ${((xs.at(-1)! - xs[WARM_UP - 1]!) / MiB).toFixed(2)} MiB${note}`,
      },
    ];
    return [...rows('live heap after GC', heap), ...rows('RSS', rss), ...rows('runner RSS', runnerRss, `, ${restarts} runner restart(s)`)];
  },
};
