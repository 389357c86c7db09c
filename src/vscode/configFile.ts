import * as vscode from 'vscode';
import { configTemplate, type WorkspaceFacts } from './configTemplate';

export function configUri(folder: vscode.WorkspaceFolder): vscode.Uri {
  return vscode.Uri.joinPath(folder.uri, '.rsi', 'config.json');
}

export async function configExists(folder: vscode.WorkspaceFolder): Promise<boolean> {
  return exists(configUri(folder));
}

/** `RSI: Open Configuration`: opens the folder's config, creating it first when there is none. */
export async function openConfig(folder: vscode.WorkspaceFolder): Promise<void> {
  const origin = (await configExists(folder)) ? undefined : await createConfig(folder);
  await vscode.window.showTextDocument(configUri(folder));
  if (origin) {
    void vscode.window.showInformationMessage(`RSI: created .rsi/config.json (${origin}). Review it, the targets especially, then run a cycle.`);
  }
}

/** A cycle in a folder without a config offers to create one; the cycle itself waits for the review. */
export async function offerConfig(folder: vscode.WorkspaceFolder): Promise<void> {
  const create = 'Create Configuration';
  const choice = await vscode.window.showInformationMessage(
    `RSI: ${folder.name} has no .rsi/config.json, which says what to measure and which files to improve. Create one from its package.json scripts?`,
    create,
  );
  if (choice === create) await openConfig(folder);
}

/** Writes a starting config; returns where its metric and gate came from. */
async function createConfig(folder: vscode.WorkspaceFolder): Promise<string> {
  const { config, origin } = configTemplate(await workspaceFacts(folder));
  await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(folder.uri, '.rsi'));
  await vscode.workspace.fs.writeFile(configUri(folder), new TextEncoder().encode(JSON.stringify(config, null, 2) + '\n'));
  return origin;
}

async function workspaceFacts(folder: vscode.WorkspaceFolder): Promise<WorkspaceFacts> {
  const hasSrc = await exists(vscode.Uri.joinPath(folder.uri, 'src'));
  try {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder.uri, 'package.json')));
    const scripts = (JSON.parse(text) as { scripts?: Record<string, string> }).scripts;
    return { scripts, hasSrc };
  } catch {
    return { hasSrc }; // no package.json, or one that does not parse: start from the placeholder
  }
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
