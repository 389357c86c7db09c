import * as vscode from 'vscode';
import type { ProposerKind } from '../core/config';
import type { EngineEvent, EngineOptions } from '../core/cycle';
import type { Engine } from './engine';
import type { RunnerRegistry } from './runners';

/** Where `RSI: Set API Key` keeps the key of the OpenAI-compatible proposer. */
export const API_KEY_SECRET = 'rsi.openai.apiKey';

/** The engine's options for a run in `folder`, from the folder's settings and the extension's storage. */
export async function engineOptions(
  engine: Engine,
  folder: vscode.WorkspaceFolder,
  parts: { context: vscode.ExtensionContext; runners: RunnerRegistry; signal: AbortSignal; onEvent: (event: EngineEvent) => void },
): Promise<EngineOptions> {
  const { context, runners, signal, onEvent } = parts;
  const settings = vscode.workspace.getConfiguration('rsi', folder);
  const proposer = settings.get<string>('proposer', '');
  // The extension's storage rather than the system temp folder: it outlives reboots, so the
  // sandboxes are built once and then only synced.
  const storage = context.storageUri ?? context.globalStorageUri;
  const storageRoot = settings.get<string>('sandboxRoot', '') || vscode.Uri.joinPath(storage, 'sandboxes').fsPath;
  const workspace = folder.uri.fsPath;
  const config = await engine.loadConfig(workspace);
  // The setting (this machine's) before the config's (the workspace's): a queue of `rsi worker`s.
  const queue = settings.get<string>('evaluation.queue', '') || config.evaluation.queue;
  // Through a queue, the one runner here only reads the folder's history and profile for the context.
  const slots = runners.for(engine, folder, queue ? 1 : engine.slotCount(config.evaluation));
  return {
    workspace,
    runner: slots[0]!,
    evaluator: queue ? await engine.connectQueue(queue, workspace, config) : engine.localPool(slots, { workspace, storageRoot }, config.evaluation),
    storageRoot,
    proposer: proposer ? (proposer as ProposerKind) : undefined,
    proposerOptions: {
      lm: engine.createLmProposer,
      apiKey: await context.secrets.get(API_KEY_SECRET),
      workingCopy: new engine.AgentWorkingCopy(storageRoot, workspace),
    },
    autoAccept: settings.get<boolean>('autoApply', false),
    signal,
    onEvent,
  };
}
