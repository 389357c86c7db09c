/**
 * Preloaded (`--require` in NODE_OPTIONS) into every Node process of one profiled baseline run:
 * starts V8's CPU profiler through the inspector and writes the profile, with the process's main
 * script, to RSI_PROFILE_DIR on exit.
 * Node 20 refuses --cpu-prof in NODE_OPTIONS; a preload reaches `node x.js`, `npm run x` and what
 * they spawn alike. A separate bundle (dist/profile-preload.js): nothing else loads it.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

/** Microseconds between samples: V8 defaults to 1000; a 300 ms benchmark then gives 600 samples. */
const SAMPLING_INTERVAL_US = 500;

const dir = process.env.RSI_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
  session.post('Profiler.start');
  // The in-process session answers synchronously, so the profile is written before the process ends.
  process.on('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (error) return;
      const script = (process.argv[1] ?? '') + (threadId > 0 ? ` (worker ${threadId})` : '');
      writeFileSync(path.join(dir, `${process.pid}-${threadId}.json`), JSON.stringify({ script, profile: result.profile }));
    });
  });
}
