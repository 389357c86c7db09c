import { CONFIG_FILE, ConfigError, type ProposerConfig, type ProposerKind } from '../config';
import { createCommandProposer } from './command';
import { ProposerError } from './errors';
import { createOpenAiProposer, type OpenAiOptions } from './openai';
import { createTuner } from './tuner';
import type { Proposer, WorkingCopy } from './types';

export { ProposerError };

/** Proposer kinds the engine can build from the config or the command line (`lm` needs the editor). */
export const PROPOSER_KINDS: readonly ProposerKind[] = ['tuner', 'command', 'openai'];

/**
 * What only the caller knows: the workspace, a coding agent's working copy (built by the runner's
 * code: core copies no trees), and in the editor an API key from SecretStorage and its language models.
 */
export interface ProposerOptions extends Pick<OpenAiOptions, 'apiKey'> {
  workspace?: string;
  workingCopy?: WorkingCopy;
  lm?: (config: Extract<ProposerConfig, { kind: 'lm' }>) => Proposer;
}

/** Builds the configured proposer. A problem the user can fix (no such proposer here) is a ProposerError. */
export function createProposer(config: ProposerConfig, options: ProposerOptions = {}): Proposer {
  if (config === 'tuner') return createTuner();
  switch (config.kind) {
    case 'tuner':
      return createTuner();
    case 'command':
      if (!options.workspace || !options.workingCopy) throw new Error('the command proposer needs a workspace and a working copy');
      return createCommandProposer(config, { workspace: options.workspace, workingCopy: options.workingCopy });
    case 'openai':
      return createOpenAiProposer(config, { apiKey: options.apiKey });
    case 'lm':
      if (options.lm) return options.lm(config);
      throw proposerConfigError('"lm" uses VS Code\'s language models and runs only in the editor; use "command" or "openai" here');
  }
}

/** The proposer for a kind named on the command line: the config's own settings when it has that kind. */
export function proposerForKind(kind: ProposerKind, configured: ProposerConfig, options: ProposerOptions = {}): Proposer {
  const configuredKind = typeof configured === 'string' ? configured : configured.kind;
  if (kind === configuredKind) return createProposer(configured, options);
  if (kind === 'tuner') return createTuner();
  if (kind === 'lm' && options.lm) return options.lm({ kind: 'lm', samples: 1 });
  throw proposerConfigError(`--proposer ${kind} needs its settings: set "proposer": {"kind": "${kind}", ...} (see the README)`);
}

function proposerConfigError(message: string): ConfigError {
  return new ConfigError(CONFIG_FILE, [{ field: 'proposer', message }]);
}
