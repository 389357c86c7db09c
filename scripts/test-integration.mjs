#!/usr/bin/env node
// npm run test:integration: the extension's suite (test/integration/suite) inside a real VS Code
// running offline (code-server, see test/integration/host/run.mjs), on a copy of examples/backtest.
// Exits with the suite's code: 0 passed, 1 failed, 2 the host failed or timed out.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { build, copyExample, installHost, repo } from './prepare.mjs';

// Ctrl-C reaches run.mjs too, which stops the host and exits 130; waiting for it (rather than
// dying at once) lets this process remove the workspace copy on exit.
process.on('SIGINT', () => {});

build();
installHost();
const workspace = copyExample('backtest');
const run = spawnSync(
  process.execPath,
  [
    'test/integration/host/run.mjs',
    '--extension', repo,
    '--tests', path.join(repo, 'out/test/integration.js'),
    '--workspace', workspace,
    '--timeout-ms', '600000',
  ],
  { cwd: repo, stdio: 'inherit' },
);
process.exitCode = run.status ?? 2;
