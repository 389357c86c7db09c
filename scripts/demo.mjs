// `npm run demo`: a few cycles on each bundled example, in temporary copies, with the offline tuner.
// The copies and the sandboxes are removed when the demo ends, Ctrl-C included.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyExample, repo } from './prepare.mjs';

// Ctrl-C reaches the CLI too, which stops its run; waiting for it lets this process clean up at exit.
process.on('SIGINT', () => {});
const sandboxes = mkdtempSync(join(tmpdir(), 'rsi-demo-sandboxes-'));
process.on('exit', () => rmSync(sandboxes, { recursive: true, force: true }));
const examples = [
  { name: 'backtest', cycles: 3, what: 'a deterministic BTC-perp backtest; the tuner improves its Sharpe ratio' },
  { name: 'sort', cycles: 2, what: 'a hybrid sort timed by wall clock: the noisy case' },
];

let failed = false;
for (const { name, cycles, what } of examples) {
  const workspace = copyExample(name);
  console.log(`\n=== examples/${name}: ${what}\n    copied to ${workspace} (removed at the end); running ${cycles} cycles\n`);
  const run = spawnSync(process.execPath, [join(repo, 'dist/cli.js'), 'cycle', '--cycles', String(cycles), '--workspace', workspace], {
    stdio: 'inherit',
    env: { ...process.env, RSI_SANDBOX_ROOT: sandboxes },
  });
  if (run.signal === 'SIGINT' || run.status === 130) process.exit(130);
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
