import * as vscode from 'vscode';

/**
 * The folder a command acts on: the one holding the given resource, the only one, the active
 * editor's, or the user's pick. The engine runs on local files only (`file:` folders).
 */
export async function pickFolder(resource?: vscode.Uri): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file');
  const holding = (uri: vscode.Uri | undefined) => (uri ? folders.find((f) => f === vscode.workspace.getWorkspaceFolder(uri)) : undefined);
  const folder = holding(resource) ?? (folders.length === 1 ? folders[0] : holding(vscode.window.activeTextEditor?.document.uri));
  if (folder) return folder;
  if (folders.length === 0) {
    void vscode.window.showWarningMessage('RSI: open a folder first: RSI Loop works on the files of a local workspace folder.');
    return undefined;
  }
  return vscode.window.showQuickPick(
    folders.map((f) => ({ label: f.name, description: f.uri.fsPath, folder: f })),
    { placeHolder: 'RSI: which folder?' },
  ).then((picked) => picked?.folder);
}
