// `npm run demo`: a few cycles on each bundled example, in temporary copies, with the offline tuner.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const sandboxes = mkdtempSync(join(tmpdir(), 'rsi-demo-sandboxes-'));
const examples = [
  { name: 'backtest', cycles: 3, what: 'a deterministic BTC-perp backtest; the tuner improves its Sharpe ratio' },
  { name: 'sort', cycles: 2, what: 'a hybrid sort timed by wall clock: the noisy case' },
];

let failed = false;
for (const { name, cycles, what } of examples) {
  const workspace = mkdtempSync(join(tmpdir(), `rsi-demo-${name}-`));
  cpSync(join(root, 'examples', name), workspace, { recursive: true });
  console.log(`\n=== examples/${name}: ${what}\n    copied to ${workspace}; running ${cycles} cycles\n`);
  const run = spawnSync(process.execPath, [join(root, 'dist/cli.js'), 'cycle', '--cycles', String(cycles), '--workspace', workspace], {
    stdio: 'inherit',
    env: { ...process.env, RSI_SANDBOX_ROOT: sandboxes },
  });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
