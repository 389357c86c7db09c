/**
 * Runner cold start and weight: RunnerClient forking dist/runner.js and answering one `ping`,
 * against a bare forked Node child answering one IPC message.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { RunnerClient } from '../src/runner/client';
import { envInt, median, MiB, procRss, progress, type Context, type Measurement, type Row } from './lib';

export const RUNNER_PATH = path.resolve(__dirname, '..', 'dist', 'runner.js');

const BARE_CHILD = `process.send('ready');
process.once('message', () => process.send({ rssBytes: process.memoryUsage.rss() }));
`;

interface Start {
  ms: number;
  /** RSS the process reports (process.memoryUsage.rss) and what /proc says just after the reply. */
  selfRss: number;
  procRss: number;
}

async function runnerStart(): Promise<Start> {
  const client = new RunnerClient({ runnerPath: RUNNER_PATH });
  try {
    const started = performance.now();
    const pong = await client.request('ping', {});
    const ms = performance.now() - started;
    return { ms, selfRss: pong.rssBytes, procRss: procRss(pong.pid) ?? NaN };
  } finally {
    await client.dispose();
  }
}

async function bareStart(script: string): Promise<Start> {
  const started = performance.now();
  // execArgv [] as RunnerClient does: the bench itself runs under tsx, which a fork would inherit.
  const child = fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
  const exited = once(child, 'exit');
  await once(child, 'message');
  child.send('ping');
  const [reply] = (await once(child, 'message')) as [{ rssBytes: number }];
  const ms = performance.now() - started;
  const rss = procRss(child.pid!) ?? NaN;
  child.disconnect(); // the child has nothing else keeping it alive: it exits
  await exited;
  return { ms, selfRss: reply.rssBytes, procRss: rss };
}

export const runnerColdStart: Measurement = {
  name: 'runner cold start',
  how: 'fork to first reply (RunnerClient + ping on dist/runner.js vs fork of a 2-line script answering one IPC message), alternating, 1 warm-up each discarded; RSS from the reply (process.memoryUsage.rss) and /proc/PID/VmRSS right after it.',
  async run(ctx: Context): Promise<Row[]> {
    await fs.access(RUNNER_PATH).catch(() => {
      throw new Error(`${RUNNER_PATH} is missing: run \`npm run build\` first (npm run bench does)`);
    });
    const script = path.join(await ctx.freshDir('bare-child'), 'child.js');
    await fs.writeFile(script, BARE_CHILD);
    const n = envInt('BENCH_START_RUNS', 15);
    const ours: Start[] = [];
    const bare: Start[] = [];
    await runnerStart();
    await bareStart(script);
    for (let i = 0; i < n; i++) {
      // Alternate which goes first, so neither always follows the other.
      if (i % 2 === 0) {
        ours.push(await runnerStart());
        bare.push(await bareStart(script));
      } else {
        bare.push(await bareStart(script));
        ours.push(await runnerStart());
      }
    }
    progress(`runner cold start: ${n} runs each`);
    const m = (xs: Start[], key: keyof Start) => median(xs.map((x) => x[key]));
    const row = (what: string, key: keyof Start, scale: number, unit: string): Row => ({
      measurement: this.name,
      what,
      ours: m(ours, key) / scale,
      unit,
      base: { label: 'bare fork', value: m(bare, key) / scale },
      ratio: m(ours, key) / m(bare, key),
      n,
    });
    return [
      row('fork to first reply', 'ms', 1, 'ms'),
      row('RSS, process.memoryUsage', 'selfRss', MiB, 'MiB'),
      row('RSS, /proc VmRSS', 'procRss', MiB, 'MiB'),
    ];
  },
};
