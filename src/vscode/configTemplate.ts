/** What a starting `.rsi/config.json` is made from. */
export interface WorkspaceFacts {
  /** The `scripts` of the workspace's package.json, if it has one. */
  scripts?: Record<string, string>;
  /** Whether the workspace has a `src` folder: the usual home of the code to improve. */
  hasSrc: boolean;
}

export interface ConfigTemplate {
  config: Record<string, unknown>;
  /** One sentence on where the metric and gate came from, for the message shown with the file. */
  origin: string;
}

/**
 * A config to start from: the test script is the gate, a bench or benchmark script's wall time the
 * metric (without one, the tests' own wall time, so that the file runs as it is). The user reviews
 * it before the first cycle: the targets especially are a guess.
 */
export function configTemplate({ scripts = {}, hasSrc }: WorkspaceFacts): ConfigTemplate {
  const bench = ['bench', 'benchmark'].find((name) => scripts[name]);
  const gate = scripts.test ? ['npm test'] : [];
  const metricCommand = bench ? `npm run --silent ${bench}` : scripts.test ? 'npm test --silent' : 'node bench.js';
  const config = {
    metric: {
      name: bench ? `${bench} time` : scripts.test ? 'test time' : 'time',
      command: metricCommand,
      read: 'wallTime',
      direction: 'minimize',
    },
    gate,
    targets: hasSrc ? ['src/**'] : ['**/*.js', '**/*.ts'],
    protected: ['test/**', '**/*.test.*', 'package.json', 'package-lock.json'],
    proposer: 'tuner',
    candidates: 4,
  };
  const metricOrigin = bench
    ? `the wall time of the "${bench}" script`
    : scripts.test
      ? 'the wall time of the tests (no "bench" script found)'
      : 'a placeholder command: set metric.command (no package.json scripts found)';
  const gateOrigin = scripts.test ? 'the "test" script' : 'none (no "test" script found)';
  return { config, origin: `metric: ${metricOrigin}; gate: ${gateOrigin}` };
}
