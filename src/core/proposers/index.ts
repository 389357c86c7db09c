import type { ProposerConfig } from '../config';
import { createTuner } from './tuner';
import type { Proposer } from './types';

/** Proposer kinds the engine can build from the config or the command line. */
export const PROPOSER_KINDS = ['tuner'] as const;

export function createProposer(config: ProposerConfig): Proposer {
  const kind = typeof config === 'string' ? config : config.kind;
  switch (kind) {
    case 'tuner':
      return createTuner();
  }
}
