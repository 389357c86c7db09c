/**
 * Why a command that runs the workspace's code must refuse, or undefined when it may run. Takes
 * the workspace as an argument so that the guard can be tested where trust cannot be switched off.
 */
export function untrustedRefusal(workspace: { readonly isTrusted: boolean }, action: string): string | undefined {
  if (workspace.isTrusted) return undefined;
  return (
    `RSI: ${action} is disabled because this workspace is not trusted: a cycle runs the workspace's own ` +
    `commands (its gate and metric). Trust the workspace to run it; the lessons stay readable meanwhile.`
  );
}
