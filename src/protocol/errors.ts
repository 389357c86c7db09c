/**
 * Errors with a kind, so that they keep it across the runner's IPC channel (and any other hop):
 * - 'user': the user's to fix (a config, a command, a file, the disk); its message is one
 *   sentence that says what to fix, shown without a stack;
 * - 'cancelled': the user stopped the work;
 * - 'program': our bug, logged with its stack.
 * The kind is a property, not only a class, because the CLI, the engine and the extension are
 * separate bundles: `instanceof` does not hold across them.
 */
export type ErrorKind = 'user' | 'cancelled' | 'program';

/** A problem the user can fix: the message says what to fix. */
export class UserError extends Error {
  readonly kind = 'user' as const;
  override name = 'UserError';
}

/** A request stopped by a cancel, on either side of the channel. */
export class CancelledError extends Error {
  readonly kind = 'cancelled' as const;
  constructor() {
    super('cancelled');
    this.name = 'CancelledError';
  }
}

/**
 * What the file system says when the fault is the machine's state, not our code: each is a
 * sentence with the way out. Other codes (EBADF, EINVAL, ...) stay the program's.
 */
const FS_PROBLEMS: Record<string, (where: string) => string> = {
  ENOSPC: (where) => `the disk is full (writing ${where}): free some space and run again`,
  EDQUOT: (where) => `the disk quota is used up (writing ${where}): free some space and run again`,
  EROFS: (where) => `${where} is on a read-only file system: RSI Loop must be able to write it`,
  EACCES: (where) => `permission denied on ${where}: make it readable (and writable, for .rsi/ and the sandboxes) by this user`,
  EPERM: (where) => `operation not permitted on ${where}: check its owner and permissions`,
  EMFILE: () => 'too many open files: raise the limit (ulimit -n) and run again',
  ENFILE: () => 'too many open files on this machine: close some programs and run again',
};

/** The kind of any thrown value. */
export function errorKind(error: unknown): ErrorKind {
  const e = error as { kind?: unknown; name?: unknown; code?: unknown } | null;
  if (e?.kind === 'user' || e?.kind === 'cancelled' || e?.kind === 'program') return e.kind;
  if (e?.name === 'CancelledError') return 'cancelled';
  if (typeof e?.code === 'string' && e.code in FS_PROBLEMS) return 'user';
  return 'program';
}

/** The sentence to show for an error of kind 'user' (a file-system fault rephrased with its way out). */
export function userMessage(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  const problem = typeof e?.code === 'string' ? FS_PROBLEMS[e.code] : undefined;
  if (problem && (e as { kind?: string }).kind === undefined) return problem(e.path ?? 'a file');
  return e?.message ?? String(error);
}

/** An error as it crosses a process or a network boundary. */
export interface WireError {
  kind: ErrorKind;
  message: string;
  /** The program's errors carry their stack for the log. */
  stack?: string;
}

export function toWire(error: unknown): WireError {
  const kind = errorKind(error);
  if (kind === 'user') return { kind, message: userMessage(error) };
  if (kind === 'cancelled') return { kind, message: 'cancelled' };
  return { kind, message: (error as Error)?.message ?? String(error), stack: (error as Error)?.stack };
}

export function fromWire(wire: WireError): Error {
  if (wire.kind === 'cancelled') return new CancelledError();
  if (wire.kind === 'user') return new UserError(wire.message);
  const error = new Error(wire.message);
  if (wire.stack) error.stack = wire.stack;
  return error;
}
