#!/usr/bin/env node
// npm run test:electron: the same suite as test:integration, in desktop VS Code through
// @vscode/test-electron. It downloads VS Code, so it needs network access, and a display
// (or xvfb-run) on Linux. Offline, use npm run test:integration.
import path from 'node:path';
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { build, copyExample, repo } from './prepare.mjs';

build();
const workspace = copyExample('backtest');

let vscodeExecutablePath;
try {
  vscodeExecutablePath = await downloadAndUnzipVSCode();
} catch (err) {
  console.error(`test:electron: could not download VS Code (${err?.message ?? err}).`);
  console.error('It needs network access to update.code.visualstudio.com; offline, run npm run test:integration (the same suite in code-server).');
  process.exit(2);
}
if (process.platform === 'linux' && !process.env.DISPLAY) {
  console.error('test:electron: no DISPLAY: desktop VS Code needs one; run it under xvfb-run.');
}

try {
  await runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: repo,
    extensionTestsPath: path.join(repo, 'out/test/integration.js'),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
  });
} catch (err) {
  console.error(`test:electron: ${err?.message ?? err}`);
  process.exitCode = 1;
}
