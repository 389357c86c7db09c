import * as vscode from 'vscode';
import { configOffer, configTemplate, type ConfigTemplate, type WorkspaceFacts } from './configTemplate';

export function configUri(folder: vscode.WorkspaceFolder): vscode.Uri {
  return vscode.Uri.joinPath(folder.uri, '.rsi', 'config.json');
}

export async function configExists(folder: vscode.WorkspaceFolder): Promise<boolean> {
  return exists(configUri(folder));
}

/** `RSI: Open Configuration`: opens the folder's config, creating it first when there is none. */
export async function openConfig(folder: vscode.WorkspaceFolder): Promise<void> {
  const created = (await configExists(folder)) ? undefined : await createConfig(folder);
  await vscode.window.showTextDocument(configUri(folder));
  if (created) {
    const next = created.fillIn.length > 0 ? `Fill in ${created.fillIn.join(' and ')}, then run a cycle.` : 'Review it, the targets especially, then run a cycle.';
    void vscode.window.showInformationMessage(`RSI: created .rsi/config.json (${created.origin}). ${next}`);
  }
}

/** A cycle in a folder without a config offers to create one; the cycle itself waits for the review. */
export async function offerConfig(folder: vscode.WorkspaceFolder): Promise<void> {
  const create = 'Create Configuration';
  const choice = await vscode.window.showInformationMessage(configOffer(folder.name, await workspaceFacts(folder)), create);
  if (choice === create) await openConfig(folder);
}

/** Writes a starting config; returns the template it was made from. */
async function createConfig(folder: vscode.WorkspaceFolder): Promise<ConfigTemplate> {
  const template = configTemplate(await workspaceFacts(folder));
  await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(folder.uri, '.rsi'));
  await vscode.workspace.fs.writeFile(configUri(folder), new TextEncoder().encode(JSON.stringify(template.config, null, 2) + '\n'));
  return template;
}

async function workspaceFacts(folder: vscode.WorkspaceFolder): Promise<WorkspaceFacts> {
  const entries = await vscode.workspace.fs.readDirectory(folder.uri);
  const files = entries.filter(([, type]) => type === vscode.FileType.File).map(([name]) => name);
  const hasSrc = entries.some(([name, type]) => name === 'src' && type === vscode.FileType.Directory);
  try {
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.joinPath(folder.uri, 'package.json')));
    const scripts = (JSON.parse(text) as { scripts?: Record<string, string> }).scripts;
    return { scripts, hasSrc, files };
  } catch {
    return { hasSrc, files }; // no package.json, or one that does not parse
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
