// A CLI run and the editor on one workspace: the editor's sandboxes live in its storage, the CLI's
// under the temp folder, and still the editor's run is refused while the CLI's holds the workspace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Test } from '../host/harness';
import { refusal, waitFor, workspaceFolder } from './helpers';

/**
 * A run as the CLI makes it: an engine process that starts the runner bundle and prepares the
 * workspace with sandboxes under the temp folder, then holds them. Resolves to the runner's pid.
 */
function cliRun(runnerPath: string, workspace: string, storageRoot: string) {
  const script = `
    const { fork } = require('node:child_process');
    const runner = fork(${JSON.stringify(runnerPath)}, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    runner.on('message', (m) => {
      if (m.type === 'ready') runner.send({ type: 'request', id: 1, method: 'prepare', params: { sandbox: { workspace: ${JSON.stringify(workspace)}, storageRoot: ${JSON.stringify(storageRoot)} }, base: {} } });
      else if (m.type === 'response') console.log(m.error ? 'error: ' + m.error.message : runner.pid);
    });`;
  const engine = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const said = new Promise<string>((resolve) => engine.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())));
  return { engine, said };
}

export const tests: Test[] = [
  {
    name: 'a run in the editor is refused while a CLI run holds the workspace, though their sandbox roots differ',
    timeoutMs: 60_000,
    async fn() {
      const extension = vscode.extensions.getExtension('rsi-loop.rsi-loop');
      assert.ok(extension);
      const workspace = workspaceFolder().uri.fsPath;
      const lock = path.join(workspace, '.rsi', 'run.lock');
      const cliRoot = mkdtempSync(path.join(tmpdir(), 'rsi-cli-sandboxes-'));
      const { engine, said } = cliRun(path.join(extension.extensionPath, 'dist', 'runner.js'), workspace, cliRoot);
      try {
        const runnerPid = await said;
        assert.match(runnerPid, /^\d+$/, `the CLI run could not start: ${runnerPid}`);
        const why = refusal(await vscode.commands.executeCommand<object | undefined>('rsi.runCycle'));
        assert.match(why, new RegExp(`this workspace is in use by another RSI run \\(runner pid ${runnerPid}, started by pid ${engine.pid}\\)`));
      } finally {
        engine.kill('SIGKILL'); // its runner shuts down and drops the lock
        await waitFor(() => !existsSync(lock), 10_000, 'the CLI run to release the workspace');
        rmSync(cliRoot, { recursive: true, force: true });
      }
    },
  },
];
