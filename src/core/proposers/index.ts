import type { ProposerConfig, ProposerKind } from '../config';
import { createCommandProposer } from './command';
import { ProposerError } from './errors';
import { createOpenAiProposer, type OpenAiOptions } from './openai';
import { createTuner } from './tuner';
import type { Proposer } from './types';

export { ProposerError };

/** Proposer kinds the engine can build from the config or the command line (`lm` needs the editor). */
export const PROPOSER_KINDS: readonly ProposerKind[] = ['tuner', 'command', 'openai'];

/** What only the caller knows: the editor passes an API key from its SecretStorage. */
export type ProposerOptions = Pick<OpenAiOptions, 'apiKey'>;

/** Builds the configured proposer. A problem the user can fix (no such proposer here) is a ProposerError. */
export function createProposer(config: ProposerConfig, options: ProposerOptions = {}): Proposer {
  if (config === 'tuner') return createTuner();
  switch (config.kind) {
    case 'tuner':
      return createTuner();
    case 'command':
      return createCommandProposer(config);
    case 'openai':
      return createOpenAiProposer(config, options);
    case 'lm':
      throw new ProposerError('the "lm" proposer uses VS Code\'s language models and runs only in the editor; use "command" or "openai" here');
  }
}

/** The proposer for a kind named on the command line: the config's own settings when it has that kind. */
export function proposerForKind(kind: ProposerKind, configured: ProposerConfig): Proposer {
  const configuredKind = typeof configured === 'string' ? configured : configured.kind;
  if (kind === configuredKind) return createProposer(configured);
  if (kind === 'tuner') return createTuner();
  throw new ProposerError(`--proposer ${kind} needs its settings: set "proposer": {"kind": "${kind}", ...} in .rsi/config.json (see the README)`);
}
