#!/usr/bin/env node
// Runs extension tests inside a real VS Code: code-server (VS Code server, on Node 24) serves the
// workbench, headless chromium (via playwright-core) opens it with an extensionTestsPath payload,
// and the extension host reports the verdict through window.codeAutomationExit.
// Install the host first: scripts/install-vscode-host.sh. See /work/shared/vscode-host.md.
//
// node test/integration/host/run.mjs --extension <abs dir> --tests <abs .js exporting run()>
//   --workspace <abs dir> [--install <abs dir>...] [--timeout-ms N] [--logs-dir <dir>]
// --extension is the extension under development; each --install is an extension folder installed
// beside it for this run only (a test fixture; the workbench takes one development path).
// Exit code: 0 tests passed, 1 tests failed, 2 timeout or host failure.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import util from 'node:util';
import { hostDir, missingHostPiece, startCodeServer } from './codeServer.mjs';

const chromiumPath = process.env.RSI_CHROMIUM || '/usr/bin/chromium';

const WORKBENCH_CHATTER = /^(Ignoring fetching additional builtin extensions|Updating additional builtin extensions cache|Resolv(ing|ed) connection token|Creating a socket|Canceled: Canceled|\[(reconnection-grace-time|Service Worker|AgentHost:remote|AccountPolicyGate)\])/;

const say = (msg) => process.stderr.write(`vscode-host: ${msg}\n`);
function fail(msg, code = 2) {
  say(`error: ${msg}`);
  process.exit(code);
}

const { values: opts } = util.parseArgs({
  options: {
    extension: { type: 'string' },
    install: { type: 'string', multiple: true, default: [] },
    tests: { type: 'string' },
    workspace: { type: 'string' },
    'timeout-ms': { type: 'string', default: '180000' },
    'logs-dir': { type: 'string' },
  },
});
for (const name of ['extension', 'tests', 'workspace', 'install']) {
  const paths = [opts[name]].flat();
  if (!paths[0] && name !== 'install') fail(`missing --${name} (usage: see the header of ${path.relative(process.cwd(), fileURLToPath(import.meta.url))})`);
  for (const p of paths) {
    if (!path.isAbsolute(p)) fail(`--${name} must be an absolute path: ${p}`);
    if (!existsSync(p)) fail(`--${name} does not exist: ${p}`);
  }
}
const timeoutMs = Number(opts['timeout-ms']);
if (!(timeoutMs > 0)) fail(`--timeout-ms must be a positive number: ${opts['timeout-ms']}`);
const missing = missingHostPiece() ?? (existsSync(chromiumPath) ? undefined : `chromium not found at ${chromiumPath}: run scripts/install-vscode-host.sh`);
if (missing) fail(missing);
const requireHost = createRequire(path.join(hostDir, 'playwright/package.json'));
let chromium;
try {
  ({ chromium } = requireHost('playwright-core'));
} catch {
  fail(`playwright-core not found under ${hostDir}/playwright: run scripts/install-vscode-host.sh`);
}

let host;
let browser;

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    say(`${sig}: stopping`);
    void shutdown().then(() => process.exit(130));
  });
}

async function shutdown() {
  await browser?.close().catch(() => {});
  await host?.stop();
}

async function main() {
  const started = Date.now();
  // The smoke-test driver: without it the workbench silently ignores the test payload.
  host = await startCodeServer({ workspace: opts.workspace, testDriver: true, installed: opts.install });
  say(`code-server up on ${host.url} after ${Date.now() - started} ms`);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    env: host.env,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const page = await browser.newPage();
  page.on('crash', () => onExit({ code: 'page crashed' }));

  // Both hooks must exist before the workbench loads: it checks for them at start-up.
  // The workbench calls codeAutomationLog(level, [format, ...args]) for its own log and for the
  // extension host's console, both at info: print all but the workbench's known start-up chatter.
  await page.exposeFunction('codeAutomationLog', (_level, args) => {
    const text = util.format(...(Array.isArray(args) ? args : [args]));
    if (!WORKBENCH_CHATTER.test(text)) process.stdout.write(`${text}\n`);
  });
  await page.exposeFunction('codeAutomationExit', (code, logs) => onExit({ code, logs }));

  const payload = [
    ['extensionDevelopmentPath', host.remote(opts.extension)],
    ['extensionTestsPath', host.remote(opts.tests)],
    ['skipWelcome', 'true'],
  ];
  // No page-load deadline of its own (playwright's 30 s passed on a busy machine while the
  // workbench still loaded): the one deadline below bounds everything.
  await page.goto(host.workbenchUrl(opts.workspace, payload), { waitUntil: 'domcontentloaded', timeout: 0 });

  const result = await exited;
  if (opts['logs-dir'] && Array.isArray(result.logs)) {
    // VS Code hands over its own log files (extension host, remote agent...): keep them for debugging.
    for (const { relativePath, contents } of result.logs) {
      const file = path.join(opts['logs-dir'], relativePath);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, contents);
    }
  }
  say(`tests finished with exit code ${result.code} after ${Date.now() - started} ms`);
  return result.code === 0 ? 0 : 1;
}

// One deadline for everything (server start, page load, tests), so nothing can hang CI.
let onExit;
const exited = new Promise((resolve) => (onExit = resolve));
let timer;
const timedOut = new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs, 'timeout')));
let exitCode;
try {
  exitCode = await Promise.race([main(), timedOut]);
  if (exitCode === 'timeout') {
    say(`error: timed out after ${timeoutMs} ms waiting for the tests to finish (did run() hang?)`);
    say(`last code-server output:\n${host?.lastOutput() ?? '(not started)'}`);
    exitCode = 2;
  }
} catch (err) {
  say(`error: ${err?.stack || err}`);
  exitCode = 2;
}
clearTimeout(timer);
await shutdown();
process.exit(exitCode);
