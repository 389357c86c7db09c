#!/usr/bin/env node
// npm run try: RSI Loop in a browser, without desktop VS Code. Packages the extension as a .vsix
// (npm run package), installs it into the offline VS Code server of the integration tests the way
// a user's editor installs one, opens a copy of examples/backtest, prints the URL, runs until Ctrl-C.
// No test driver: it would hide every notification, and a user sees them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copyExample, installHost, repo } from './prepare.mjs';
import { startCodeServer } from '../test/integration/host/codeServer.mjs';

installHost();
const out = mkdtempSync(path.join(os.tmpdir(), 'rsi-try-'));
process.on('exit', () => rmSync(out, { recursive: true, force: true }));
const vsix = path.join(out, 'rsi-loop.vsix');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const packaged = spawnSync(npm, ['run', '--silent', 'package', '--', '--out', vsix], { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] });
if (packaged.status !== 0) process.exit(packaged.status ?? 1);
const workspace = copyExample('backtest');
const host = await startCodeServer({ workspace, vsix });
console.log(`\nRSI Loop is running in VS Code at:\n\n  ${host.workbenchUrl(workspace)}\n\nworkspace: ${workspace} (a temporary copy of examples/backtest)\nCtrl-C stops it.\n`);
const signal = await new Promise((resolve) => {
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(name, () => resolve(name));
});
console.log(`${signal}: stopping`);
await host.stop();
