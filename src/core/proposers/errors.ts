/** A proposer that cannot work as configured (not available, not installed, refused, unreachable): the run stops with this message. */
export class ProposerError extends Error {
  override name = 'ProposerError';
}
