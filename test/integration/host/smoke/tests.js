// Smoke suite for the integration-test host: proves activation, commands, documents, CodeLens and
// child processes all work in the real extension host. Run with:
//   node test/integration/host/run.mjs --extension $PWD/test/integration/host/smoke \
//     --tests $PWD/test/integration/host/smoke/tests.js --workspace $PWD/test/integration/host/smoke/workspace
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const vscode = require('vscode');
const { runTests } = require('../harness');

const tests = [
  {
    name: 'reports the VS Code API version',
    fn() {
      console.log(`  # vscode.version ${vscode.version}, extension host node ${process.version}`);
      const [major, minor] = vscode.version.split('.').map(Number);
      assert.ok(major > 1 || minor >= 95, `engines.vscode ^1.95.0 needs >= 1.95, got ${vscode.version}`);
    },
  },
  {
    name: 'extension activates',
    async fn() {
      const ext = vscode.extensions.getExtension('rsi-loop.rsi-smoke');
      assert.ok(ext, 'extension rsi-loop.rsi-smoke not found');
      await ext.activate();
      assert.equal(ext.isActive, true);
    },
  },
  {
    name: 'command rsiSmoke.hello returns hello',
    async fn() {
      assert.equal(await vscode.commands.executeCommand('rsiSmoke.hello'), 'hello');
    },
  },
  {
    name: 'CodeLens on a workspace file',
    async fn() {
      const [folder] = vscode.workspace.workspaceFolders ?? [];
      assert.ok(folder, 'no workspace folder open');
      const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder.uri, 'sample.txt'));
      await vscode.window.showTextDocument(doc);
      assert.equal(doc.languageId, 'plaintext');
      const lenses = await vscode.commands.executeCommand('vscode.executeCodeLensProvider', doc.uri);
      assert.deepEqual(lenses.map((l) => l.command && l.command.title), ['Accept smoke']);
    },
  },
  {
    name: 'child process with IPC from the extension host',
    async fn() {
      // `node` from PATH with an IPC channel, the way the engine will talk to its runner.
      const child = spawn('node', ['-e', 'process.on("message", (m) => { process.send({ pong: m.ping, node: process.version }); process.exit(0); })'], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const reply = await new Promise((resolve, reject) => {
        child.once('message', resolve);
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`child exited with ${code} before replying`)));
        child.send({ ping: 42 });
      });
      assert.equal(reply.pong, 42);
      console.log(`  # child node ${reply.node}`);
    },
  },
];

module.exports = { run: () => runTests(tests) };
