/** What a starting `.rsi/config.json` is made from. */
export interface WorkspaceFacts {
  /** The `scripts` of the workspace's package.json, if it has one. */
  scripts?: Record<string, string>;
  /** Whether the workspace has a `src` folder: the usual home of the code to improve. */
  hasSrc: boolean;
  /** The names of the files at the workspace's top level. */
  files?: string[];
}

export interface ConfigTemplate {
  config: Record<string, unknown>;
  /** One sentence on where the metric and gate came from, for the message shown with the file. */
  origin: string;
  /** Fields the user must fill in before a cycle can run (the config is invalid until then). */
  fillIn: string[];
}

/** A benchmark file at the top level, and the command that runs it. */
const BENCH_FILE = /^bench(mark)?\.(c?js|mjs|py)$/;
const RUNNERS: Record<string, string> = { js: 'node', cjs: 'node', mjs: 'node', py: 'python3' };
/** Languages the targets are guessed from, by file extension. */
const SOURCE_EXTENSIONS = ['js', 'mjs', 'cjs', 'ts', 'py'];

function benchFile(files: string[]): { file: string; command: string } | undefined {
  const file = files.find((f) => BENCH_FILE.test(f));
  return file ? { file, command: `${RUNNERS[file.split('.').pop()!]} ${file}` } : undefined;
}

/**
 * A config to start from: the test script is the gate, a bench or benchmark script's CPU time the
 * metric (CPU time is far quieter than wall time on a busy machine), else a bench file's at the
 * top, else the tests' wall time. A CPU time's pairs are pinned to a CPU each by default, which a
 * parallel benchmark must turn off: the user is told. With none of them the metric
 * command is left empty, and the user is told to fill it in: nothing is made up. The user reviews
 * the file before the first cycle: the targets especially are a guess.
 */
export function configTemplate({ scripts = {}, hasSrc, files = [] }: WorkspaceFacts): ConfigTemplate {
  const benchScript = ['bench', 'benchmark'].find((name) => scripts[name]);
  const file = benchFile(files);
  // A benchmark is usually CPU-bound: its CPU time; tests often wait on I/O: their wall time.
  const metric = benchScript
    ? { name: `${benchScript} CPU time`, command: `npm run --silent ${benchScript}`, read: 'cpuTime', origin: `the CPU time of the "${benchScript}" script (set metric.read to "wallTime" if it waits on I/O)` }
    : file
      ? { name: `${file.file} CPU time`, command: file.command, read: 'cpuTime', origin: `the CPU time of ${file.file} (set metric.read to "wallTime" if it waits on I/O)` }
      : scripts.test
        ? { name: 'test time', command: 'npm test --silent', read: 'wallTime', origin: 'the wall time of the tests (no bench script or file found)' }
        : { name: 'metric', command: '', read: 'wallTime', origin: 'none found (no bench script, bench file or test script)' };
  const extensions = SOURCE_EXTENSIONS.filter((ext) => files.some((f) => f.endsWith(`.${ext}`) && !BENCH_FILE.test(f)));
  const targets = hasSrc ? ['src/**'] : extensions.map((ext) => `**/*.${ext}`);
  const fillIn = [
    ...(metric.command ? [] : ['metric.command (a command that prints or times what to improve)']),
    ...(targets.length > 0 ? [] : ['targets (globs of the files a proposer may change)']),
  ];
  const config = {
    metric: { name: metric.name, command: metric.command, read: metric.read, direction: 'minimize' },
    gate: scripts.test ? ['npm test'] : [],
    targets,
    protected: ['test/**', '**/*.test.*', 'package.json', 'package-lock.json'],
    proposer: 'tuner',
    candidates: 4,
  };
  const gateOrigin = scripts.test ? 'the "test" script' : 'none (no "test" script found)';
  const pinned = metric.read === 'cpuTime' ? ', each pair of runs on one CPU (set sampling.pinPairs to false if the benchmark runs in parallel)' : '';
  return { config, origin: `metric: ${metric.origin}${pinned}; gate: ${gateOrigin}`, fillIn };
}

/** The offer made when a cycle finds no config: it says what the new file would be made from, or what is left to fill in. */
export function configOffer(folderName: string, facts: WorkspaceFacts): string {
  const { origin, fillIn } = configTemplate(facts);
  const create = fillIn.length > 0 ? `Create one to fill in (${fillIn.map((f) => f.split(' ')[0]).join(' and ')})?` : `Create one (${origin})?`;
  return `RSI: ${folderName} has no .rsi/config.json, which says what to measure and which files to improve. ${create}`;
}
