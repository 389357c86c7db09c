// Steps shared by the scripts that run the extension in a VS Code: build it, install the offline
// host, and copy an example into a temp folder (tests and demos never touch examples/ itself).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a command in the repository; a failure ends this process with its exit code. */
function step(command, args) {
  const result = spawnSync(command, args, { cwd: repo, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** The extension, engine, runner and CLI bundles, and the integration test bundle. */
export function build() {
  step(process.execPath, ['esbuild.mjs']);
}

/** code-server, Node 24, playwright and chromium (cached: a second run does nothing). */
export function installHost() {
  step('bash', ['scripts/install-vscode-host.sh']);
}

/** A temp copy of examples/<name>, removed when this process exits. */
export function copyExample(name) {
  return copyToTemp(path.join('examples', name));
}

/** A temp copy of a folder of the repository, removed when this process exits. */
export function copyToTemp(folder) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `rsi-${path.basename(folder)}-`));
  cpSync(path.join(repo, folder), dir, { recursive: true });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
