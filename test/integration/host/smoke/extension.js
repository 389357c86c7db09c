// Minimal extension for the host smoke test: one command, one CodeLens provider.
const vscode = require('vscode');

function activate(context) {
  context.subscriptions.push(
    vscode.commands.registerCommand('rsiSmoke.hello', () => 'hello'),
    vscode.languages.registerCodeLensProvider({ language: 'plaintext' }, {
      provideCodeLenses() {
        const top = new vscode.Range(0, 0, 0, 0);
        return [new vscode.CodeLens(top, { title: 'Accept smoke', command: 'rsiSmoke.hello' })];
      },
    }),
  );
}

module.exports = { activate, deactivate() {} };
