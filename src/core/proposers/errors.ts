/** A proposer that cannot work as configured (not available, not installed, refused, unreachable): the run stops with this message. */
import { UserError } from '../../protocol/errors';

export class ProposerError extends UserError {
  override name = 'ProposerError';
}
