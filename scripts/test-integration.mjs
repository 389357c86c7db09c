#!/usr/bin/env node
// npm run test:integration: the extension's suites inside a real VS Code running offline
// (code-server, see test/integration/host/run.mjs), each in a host of its own:
// - test/integration/suite on a copy of examples/backtest, with no language model installed;
// - test/integration/lm on a copy of test/integration/fixtures/lm-workspace, with the scripted
//   chat model of test/integration/fixtures/scripted-model loaded beside the extension.
// Runs every suite, and exits with the first failing one's code: 0 passed, 1 failed, 2 the host
// failed or timed out, 130 interrupted (which ends the runs).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { build, copyExample, copyToTemp, installHost, repo } from './prepare.mjs';

// Ctrl-C reaches run.mjs too, which stops the host and exits 130; waiting for it (rather than
// dying at once) lets this process remove the workspace copies on exit.
process.on('SIGINT', () => {});

build();
installHost();
const suites = [
  { tests: 'out/test/integration.js', workspace: copyExample('backtest'), installed: [] },
  {
    tests: 'out/test/lmIntegration.js',
    workspace: copyToTemp('test/integration/fixtures/lm-workspace'),
    installed: [path.join(repo, 'test/integration/fixtures/scripted-model')],
  },
];
let exitCode = 0;
for (const suite of suites) {
  const run = spawnSync(
    process.execPath,
    [
      'test/integration/host/run.mjs',
      '--extension', repo,
      ...suite.installed.flatMap((folder) => ['--install', folder]),
      '--tests', path.join(repo, suite.tests),
      '--workspace', suite.workspace,
      '--timeout-ms', '600000',
    ],
    { cwd: repo, stdio: 'inherit' },
  );
  const status = run.status ?? 2;
  if (exitCode === 0) exitCode = status;
  if (status === 130) break;
}
process.exitCode = exitCode;
