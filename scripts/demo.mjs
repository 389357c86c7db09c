// `npm run demo`: a few cycles on each bundled example, in temporary copies, with the offline tuner.
// The copies and the sandboxes are removed when the demo ends, stopped or not.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyExample, repo } from './prepare.mjs';

const sandboxes = mkdtempSync(join(tmpdir(), 'rsi-demo-sandboxes-'));
process.on('exit', () => rmSync(sandboxes, { recursive: true, force: true }));
const examples = [
  { name: 'backtest', cycles: 3, what: 'a deterministic BTC-perp backtest; the tuner improves its Sharpe ratio' },
  { name: 'sort', cycles: 2, what: 'a hybrid sort timed by its CPU time: the noisy case' },
];

// A stop (Ctrl-C reaches the CLI by itself, a kill is passed on) ends the CLI's run; this process
// waits for it, then exits, which removes the copies and the sandboxes.
let cli;
let stopped = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    stopped = true;
    if (signal !== 'SIGINT') cli?.kill(signal);
  });
}

let failed = false;
for (const { name, cycles, what } of examples) {
  if (stopped) break;
  const workspace = copyExample(name);
  console.log(`\n=== examples/${name}: ${what}\n    copied to ${workspace} (removed at the end); running ${cycles} cycles\n`);
  cli = spawn(process.execPath, [join(repo, 'dist/cli.js'), 'cycle', '--cycles', String(cycles), '--workspace', workspace], {
    stdio: 'inherit',
    env: { ...process.env, RSI_SANDBOX_ROOT: sandboxes },
  });
  const code = await new Promise((resolve) => cli.once('exit', (status) => resolve(status)));
  if (code !== 0) failed = true;
}
process.exit(stopped ? 130 : failed ? 1 : 0);
