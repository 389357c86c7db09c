import * as path from 'node:path';

export type Engine = typeof import('../engine');

/**
 * The engine bundle next to the extension's (dist/engine.js), loaded on first use. The computed
 * path keeps esbuild from inlining it: activation must not pay for what only a cycle needs.
 */
export function loadEngine(): Engine {
  return require(path.join(__dirname, 'engine.js')) as Engine;
}
