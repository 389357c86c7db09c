import type { ProposerConfig, ProposerKind } from '../config';
import { createTuner } from './tuner';
import type { Proposer } from './types';

/** Proposer kinds the engine can build from the config or the command line. */
export const PROPOSER_KINDS: readonly ProposerKind[] = ['tuner'];

/** Builds the configured proposer. A problem the user can fix (no such proposer here) is a ProposerError. */
export function createProposer(config: ProposerConfig): Proposer {
  const kind = typeof config === 'string' ? config : config.kind;
  switch (kind) {
    case 'tuner':
      return createTuner();
    default:
      throw new ProposerError(`the "${kind}" proposer is not available here; use "tuner"`);
  }
}

/** The proposer for a kind named on the command line: the config's own settings when it has that kind. */
export function proposerForKind(kind: ProposerKind, configured: ProposerConfig): Proposer {
  const configuredKind = typeof configured === 'string' ? configured : configured.kind;
  if (kind === configuredKind) return createProposer(configured);
  if (kind === 'tuner') return createTuner();
  throw new ProposerError(`--proposer ${kind} needs its settings: set "proposer": {"kind": "${kind}", ...} in .rsi/config.json (see the README)`);
}

export class ProposerError extends Error {
  override name = 'ProposerError';
}
