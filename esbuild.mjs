// Separate bundles for separate processes: the runner stays free of everything the engine loads.
import * as esbuild from 'esbuild';

const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'warning',
};

await Promise.all([
  // The history module (and isomorphic-git in it) stays out of runner.js: it costs the runner's
  // start-up ~15 ms to parse, and only a model proposer's first prompt needs it (main.ts loads it).
  esbuild.build({ ...common, entryPoints: ['src/runner/main.ts'], outfile: 'dist/runner.js', external: ['./history.js'] }),
  esbuild.build({ ...common, entryPoints: ['src/runner/history.ts'], outfile: 'dist/history.js' }),
  // Preloaded into the processes of a profiled baseline run (runner/profile.ts), nothing else.
  esbuild.build({ ...common, entryPoints: ['src/runner/profilePreload.ts'], outfile: 'dist/profile-preload.js' }),
  // The queue backend (BullMQ, ioredis) stays out of cli.js and engine.js: only `rsi worker` and a
  // cycle with a queue load it.
  esbuild.build({ ...common, entryPoints: ['src/queue.ts'], outfile: 'dist/queue.js' }),
  esbuild.build({ ...common, entryPoints: ['src/cli.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' }, external: ['./queue.js'] }),
  // The extension stays small so that activation is cheap: it requires dist/engine.js (the cycle,
  // the proposers, ajv) by a computed path when a run starts.
  esbuild.build({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js', external: ['vscode'] }),
  esbuild.build({ ...common, entryPoints: ['src/engine.ts'], outfile: 'dist/engine.js', external: ['vscode', './queue.js'] }),
  // The integration suite runs inside the VS Code extension host (test/integration/host/run.mjs).
  esbuild.build({ ...common, entryPoints: ['test/integration/suite/index.ts'], outfile: 'out/test/integration.js', external: ['vscode'] }),
  // The lm proposer's suite, run in a host of its own beside a scripted chat model (scripts/test-integration.mjs).
  esbuild.build({ ...common, entryPoints: ['test/integration/lm/index.ts'], outfile: 'out/test/lmIntegration.js', external: ['vscode'] }),
]);
