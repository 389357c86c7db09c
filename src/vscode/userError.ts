/** Errors the user can fix: the config, a gate failing before any change, a proposer that cannot work. */
const USER_ERRORS = new Set(['ConfigError', 'EngineStop', 'ProposerError']);

/**
 * Whether the engine's error is the user's to fix (a message with the way out) rather than the
 * program's (logged whole). Told by class name: the engine is another bundle, loaded by a run,
 * so its classes are not at hand for instanceof. test/unit/userError.test.ts pins the names.
 */
export function isUserError(error: Error): boolean {
  return USER_ERRORS.has(error.name);
}
