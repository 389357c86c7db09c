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
 * A config to start from: the test script is the gate, a bench or benchmark script's CPU time the
 * metric (a benchmark is usually CPU-bound, and CPU time is far quieter than wall time on a busy
 * machine); without one, the tests' own wall time, so that the file runs as it is (tests often
 * wait on I/O). The user reviews it before the first cycle: the targets especially are a guess.
 */
export function configTemplate({ scripts = {}, hasSrc }: WorkspaceFacts): ConfigTemplate {
  const bench = ['bench', 'benchmark'].find((name) => scripts[name]);
  const gate = scripts.test ? ['npm test'] : [];
  const metricCommand = bench ? `npm run --silent ${bench}` : scripts.test ? 'npm test --silent' : 'node bench.js';
  const config = {
    metric: {
      name: bench ? `${bench} CPU time` : scripts.test ? 'test time' : 'time',
      command: metricCommand,
      read: bench ? 'cpuTime' : 'wallTime',
      direction: 'minimize',
    },
    gate,
    targets: hasSrc ? ['src/**'] : ['**/*.js', '**/*.ts'],
    protected: ['test/**', '**/*.test.*', 'package.json', 'package-lock.json'],
    proposer: 'tuner',
    candidates: 4,
  };
  const metricOrigin = bench
    ? `the CPU time of the "${bench}" script (set metric.read to "wallTime" if it waits on I/O)`
    : scripts.test
      ? 'the wall time of the tests (no "bench" script found)'
      : 'a placeholder command: set metric.command (no package.json scripts found)';
  const gateOrigin = scripts.test ? 'the "test" script' : 'none (no "test" script found)';
  return { config, origin: `metric: ${metricOrigin}; gate: ${gateOrigin}` };
}
