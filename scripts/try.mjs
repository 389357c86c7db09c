#!/usr/bin/env node
// npm run try: RSI Loop in a browser, without desktop VS Code. Builds the extension, starts the
// offline VS Code server of the integration tests on 127.0.0.1 with the extension loaded from
// this repository and a copy of examples/backtest open, prints the URL, and runs until Ctrl-C.
import { build, copyExample, installHost, repo } from './prepare.mjs';
import { startCodeServer } from '../test/integration/host/codeServer.mjs';

build();
installHost();
const workspace = copyExample('backtest');
// The test driver flag makes the workbench read the payload that loads the extension from here.
const host = await startCodeServer({ workspace, testDriver: true });
const url = host.workbenchUrl(workspace, [['extensionDevelopmentPath', host.remote(repo)], ['skipWelcome', 'true']]);
console.log(`\nRSI Loop is running in VS Code at:\n\n  ${url}\n\nworkspace: ${workspace} (a temporary copy of examples/backtest)\nCtrl-C stops it.\n`);
const signal = await new Promise((resolve) => {
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(name, () => resolve(name));
});
console.log(`${signal}: stopping`);
await host.stop();
