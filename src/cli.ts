/**
 * `rsi`: the same cycle as the extension, headless (CI, nightly runs, benchmarks).
 * Exit codes: 0 cycles ran (kept or not), 1 engine failure, 2 usage or config error.
 */
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { version } from '../package.json';
import { calibrate, readCalibration } from './core/calibration';
import { ConfigError, loadConfig, type ProposerKind, type RsiConfig } from './core/config';
import { contextPrompt, historyFromRunner, profileFromRunner } from './core/context';
import { currentBaseline } from './core/currentBaseline';
import { describeCalibration, describeChange, describeGuards, describeOutcome, metricValue, percent } from './core/format';
import { runCycles, type EngineEvent, type LessonBrief, type RunSummary } from './core/cycle';
import { readLessons, readVerdicts, streamLessons } from './core/lessons';
import { applyProposal, PROPOSAL_FILE, rejectProposal, saveProposal, type Decision } from './core/proposal';
import { PROPOSER_KINDS } from './core/proposers';
import { HOW_TO_ANNOTATE, isLogScale, scanParameters, type Parameter } from './core/proposers/tuner';
import { existingTargets } from './core/targets';
import { errorKind, userMessage } from './protocol/errors';
import { listTargetFiles, readTextOrNull } from './core/workspace';
import { AgentWorkingCopy } from './runner/agentCopy';
import { RunnerClient } from './runner/client';
import { LocalEvaluator } from './evaluation/local';
import { localPool, slotCount } from './evaluation/pool';

const USAGE = `usage:
  rsi cycle [--cycles N] [--proposer NAME] [--auto-accept] [--queue URL] [--json] [--workspace DIR]
  rsi apply [--workspace DIR]     write the pending proposal of the last cycle to your files
  rsi reject [--workspace DIR]    drop the pending proposal
  rsi params [--json] [--workspace DIR]   the tuner's parameters, and the target files with none
  rsi calibrate [--json] [--workspace DIR]
  rsi lessons [--json] [--workspace DIR]
  rsi context [--workspace DIR]   print what a model proposer is told (profiles one baseline run in a sandbox, once per baseline)
  rsi worker --queue URL          evaluate the candidates of cycles run with --queue URL, on this machine

  --cycles N        cycles to run (default 1); each kept winner is the next cycle's baseline
  --proposer NAME   who proposes changes: ${PROPOSER_KINDS.join(', ')} (default: the config's)
  --auto-accept     write each kept winner to the workspace; without it your files are never written
  --queue URL       evaluate on the \`rsi worker\` processes of this Redis (redis://HOST:6379; default: the config's evaluation.queue, else here)
  --json            print the result as JSON on stdout (progress stays on stderr)
  --workspace DIR   the workspace holding .rsi/config.json (default: the current directory)
  --verbose         also print the engine's internal log on stderr (or set RSI_DEBUG=1)
  --version         print the version`;

const COMMANDS = ['cycle', 'apply', 'reject', 'params', 'calibrate', 'lessons', 'context', 'worker'];

const OPTIONS = {
  cycles: { type: 'string' },
  proposer: { type: 'string' },
  'auto-accept': { type: 'boolean' },
  queue: { type: 'string' },
  json: { type: 'boolean' },
  workspace: { type: 'string' },
  verbose: { type: 'boolean' },
  version: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    throw new UsageError(optionProblem(err as Error & { code?: string }));
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  if (values.help || command === undefined) {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  const workspace = path.resolve(values.workspace ?? '.');
  const debug = debugLog(values.verbose ?? false);

  if (values.queue !== undefined && command !== 'cycle' && command !== 'worker') throw new UsageError('--queue goes with rsi cycle or rsi worker');
  if (command === 'worker') return serveWorker(checkedQueue(values.queue), debug);
  if (command === 'lessons') return printLessons(workspace, values.json ?? false);
  if (command === 'context') return printContext(workspace, debug);
  if (command === 'params') return printParams(workspace, values.json ?? false);
  if (command === 'apply') return decided(await applyProposal(workspace), 'applied to the workspace');
  if (command === 'reject') return decided(await rejectProposal(workspace), 'rejected; your files were not written');
  if (command !== 'cycle' && command !== 'calibrate') throw new UsageError(`unknown command: ${command}${didYouMean(command, COMMANDS)}`);

  const cycles = values.cycles === undefined ? 1 : Number(values.cycles);
  if (!Number.isInteger(cycles) || cycles < 1) throw new UsageError(`--cycles must be a whole number of at least 1, not "${values.cycles}"`);
  const proposerName = values.proposer;
  if (proposerName !== undefined && !(PROPOSER_KINDS as readonly string[]).includes(proposerName)) {
    throw new UsageError(`--proposer must be one of ${PROPOSER_KINDS.join(', ')}, not "${proposerName}"`);
  }

  const controller = new AbortController();
  process.once('SIGINT', () => {
    process.stderr.write('\nstopping: the current run is killed, nothing of it is kept\n');
    controller.abort();
  });
  const config = await loadConfig(workspace);
  const queue = command === 'cycle' ? await queueEvaluator(workspace, config, values.queue) : undefined;
  // The runners fork on their first request: slots a run does not need never start. Through a
  // queue, the one runner here only reads the workspace's history and profile for the context.
  const runners = Array.from({ length: queue ? 1 : slotCount(config.evaluation) }, () => newRunner(debug));
  const options = {
    workspace,
    runner: runners[0]!,
    evaluator: queue ?? localPool(runners, { workspace, storageRoot: storageRoot() }, config.evaluation),
    storageRoot: storageRoot(),
    proposer: proposerName as ProposerKind | undefined,
    proposerOptions: { workingCopy: new AgentWorkingCopy(storageRoot(), workspace) },
    autoAccept: values['auto-accept'] ?? false,
    signal: controller.signal,
    onEvent: progressPrinter(debug),
  };
  try {
    if (command === 'calibrate') {
      const { previous, ...calibration } = await calibrate(options);
      if (values.json) process.stdout.write(JSON.stringify({ ...calibration, previous }, null, 2) + '\n');
      else process.stdout.write(`${describeCalibration(calibration, previous)}; saved to .rsi/calibration.json\n`);
      return controller.signal.aborted ? 130 : 0;
    }
    const summary = await runCycles(options, cycles);
    if (summary.proposal) await saveProposal(workspace, summary.proposal);
    process.stdout.write(values.json ? JSON.stringify(summary, null, 2) + '\n' : renderSummary(summary));
    return summary.cancelled ? 130 : 0;
  } finally {
    await queue?.release();
    await Promise.all(runners.map((runner) => runner.dispose()));
  }
}

/** `--queue URL`, checked: a usage error when absent or not a Redis URL. */
function checkedQueue(url: string | undefined): string {
  if (url === undefined) throw new UsageError('rsi worker needs --queue redis://HOST:PORT, the Redis the cycles send their candidates to');
  if (!/^rediss?:\/\/[^/]/.test(url)) throw new UsageError(`--queue must be a redis://HOST:PORT URL, not "${url}"`);
  return url;
}

/**
 * The queue a cycle sends its candidates to (--queue, else the config's evaluation.queue),
 * connected: a Redis that cannot be reached stops the run here, before anything runs. Undefined:
 * evaluate on this machine. The queue backend is a bundle of its own, loaded only then.
 */
async function queueEvaluator(workspace: string, config: RsiConfig, flag: string | undefined) {
  const url = flag === undefined ? config.evaluation.queue : checkedQueue(flag);
  if (url === null) return undefined;
  const { QueueEvaluator, queueOptions } = await import('./queue.js');
  return QueueEvaluator.connect(queueOptions(url, workspace, config, version));
}

/**
 * `rsi worker`: serves evaluation jobs until Ctrl-C or SIGTERM (a job in hand goes back to the
 * queue for another worker), each on this machine through one runner. Its log goes to stderr.
 */
async function serveWorker(url: string, debug: (line: string) => void): Promise<number> {
  const { serveQueue } = await import('./queue.js');
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const runner = newRunner(debug);
  try {
    await serveQueue({
      url,
      version,
      storage: path.join(storageRoot(), 'worker'),
      host: os.hostname(),
      localEvaluator: (workspace, sandboxRoot) => new LocalEvaluator(runner, { workspace, storageRoot: sandboxRoot }),
      log: (line) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`),
      signal: controller.signal,
    });
    return 0;
  } finally {
    await runner.dispose();
  }
}

/** The runner's own log (restarts, its stderr) is internal detail: shown with --verbose or RSI_DEBUG. */
function newRunner(debug: (line: string) => void): RunnerClient {
  return new RunnerClient({ runnerPath: path.join(__dirname, 'runner.js'), log: debug });
}

function debugLog(verbose: boolean): (line: string) => void {
  const on = verbose || !['', '0', undefined].includes(process.env.RSI_DEBUG);
  return on ? (line) => process.stderr.write(`[debug] ${line}\n`) : () => {};
}

/** Node's parser text in the user's terms, with the usage and the nearest option. */
function optionProblem(err: Error & { code?: string }): string {
  const option = /'(-{1,2}[^' ]+)/.exec(err.message)?.[1];
  if (!option) return err.message;
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    return `unknown option ${option}${didYouMean(option, Object.keys(OPTIONS).map((name) => `--${name}`))}`;
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    return /argument missing/.test(err.message) ? `${option} needs a value` : `${option} takes no value`;
  }
  return err.message;
}

/** " (did you mean --cycles?)" when one of `known` is a likely typo of `word`, else "". */
function didYouMean(word: string, known: string[]): string {
  const [best] = known.map((k) => ({ k, d: editDistance(word, k) })).sort((a, b) => a.d - b.d);
  return best && best.d <= Math.max(2, Math.floor(best.k.length / 3)) ? ` (did you mean ${best.k}?)` : '';
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length]!;
}

/** `rsi apply` / `rsi reject`: one line saying what was done, or why not (exit 2: nothing was written). */
function decided(decision: Decision, done: string): number {
  if (!decision.ok) {
    process.stderr.write(`rsi: ${decision.reason}\n`);
    return 2;
  }
  const lessons = `${decision.lessons.length} lesson${decision.lessons.length === 1 ? '' : 's'}`;
  process.stdout.write(`${decision.files.join(', ')}: ${done} (verdict recorded for ${lessons})\n`);
  return 0;
}

/**
 * `rsi params`: what the tuner would tune, read from the target files as they are; runs nothing.
 * Targets that match no file are the same error as for a cycle.
 */
async function printParams(workspace: string, json: boolean): Promise<number> {
  const config = await loadConfig(workspace);
  const files = await existingTargets(workspace, config);
  const problems: string[] = [];
  const { params } = await scanParameters(files, async (rel) => (await readTextOrNull(path.join(workspace, rel))) ?? '', (m) => problems.push(m));
  const without = files.filter((file) => !params.some((p) => p.file === file));
  const scale = (p: Parameter) => (isLogScale(p) ? 'log' : 'linear');
  if (json) {
    const listed = params.map((p) => ({ key: p.key, file: p.file, line: p.line, value: p.value, lo: p.lo, hi: p.hi, int: p.int, scale: scale(p) }));
    process.stdout.write(JSON.stringify({ params: listed, filesWithout: without, problems }, null, 2) + '\n');
    return 0;
  }
  const out: string[] = [];
  for (const p of params) out.push(`${p.file}:${p.line}  ${p.name} = ${p.literal}  ${p.int ? 'int ' : ''}${p.lo}..${p.hi}, ${scale(p)} scale`);
  if (params.length === 0) out.push(`no annotated parameters: ${HOW_TO_ANNOTATE}`);
  if (without.length > 0) out.push(`\ntarget files with no parameter: ${without.join(', ')}`);
  for (const problem of problems) out.push(`warning: ${problem}`);
  process.stdout.write(out.join('\n') + '\n');
  return 0;
}

/** Where sandboxes (and the git history index) live: outside the workspace. */
function storageRoot(): string {
  return process.env.RSI_SANDBOX_ROOT ?? path.join(os.tmpdir(), 'rsi-sandboxes');
}

/**
 * `rsi context`: the text a model proposer is sent, on stdout. The baseline is the latest lesson's
 * and the noise floor the cached calibration's, where a cycle measures both afresh. The runner reads
 * the git history and profiles one run of the metric command in a sandbox (unless cached).
 */
async function printContext(workspace: string, debug: (line: string) => void): Promise<number> {
  const config = await loadConfig(workspace);
  const lessonLog = await readLessons(workspace);
  const { lessons, verdicts } = lessonLog;
  const calibration = await readCalibration(workspace, config);
  const measured = await currentBaseline(workspace, lessonLog);
  // Without a calibration (a deterministic metric is never calibrated), a zero-width interval says the runs did not vary.
  const ci = measured?.lesson.metric?.ci;
  const deterministic = calibration?.deterministic ?? (ci !== undefined && ci[0] === ci[1]);
  const runner = newRunner(debug);
  try {
    const text = await contextPrompt({
      workspace,
      config,
      targetFiles: await listTargetFiles(workspace, config.targets, config.protected),
      readFile: async (rel) => (await readTextOrNull(path.join(workspace, rel))) ?? '',
      lessons,
      verdicts,
      baseline: measured && { median: measured.median, n: measured.n, deterministic },
      noiseFloor: config.noise.floor ?? calibration?.floor,
      history: historyFromRunner(runner, workspace, storageRoot(), config),
      profile: profileFromRunner(runner, workspace, storageRoot(), config, { log: (message) => process.stderr.write(`${message}\n`) }),
      log: (message) => process.stderr.write(`${message}\n`),
    });
    process.stdout.write(text);
    const baseline = measured
      ? `the baseline is cycle ${measured.lesson.cycle}'s measurement of the files as they are now; a cycle measures it afresh`
      : lessons.some((l) => l.metric)
        ? 'no lesson measured the files as they are now (the latest were measured with changes these files do not hold), so no baseline is given'
        : 'no baseline measured yet';
    process.stderr.write(`${text.length} characters (budget ${config.context.budgetChars}); ${baseline}\n`);
    return 0;
  } finally {
    await runner.request('release', {}).catch(() => undefined);
    await runner.dispose();
  }
}

/** One stderr line per stage and candidate phase; on a terminal the run counts update in place. */
function progressPrinter(debug: (line: string) => void): (event: EngineEvent) => void {
  const live = process.stderr.isTTY;
  let open = false;
  const line = (text: string, transient = false) => {
    if (open) process.stderr.write(live ? '\r\x1b[K' : '\n');
    process.stderr.write(text + (transient && live ? '' : '\n'));
    open = transient && live;
  };
  // Candidates evaluated side by side interleave their events: each phase is printed once, and a
  // lesson names its candidate.
  const printedPhases = new Set<string>();
  const candidateOf = new Map<string, string>();
  let calibrationLine = ''; // both sides of a pair report the same count: print it once
  return (event) => {
    switch (event.kind) {
      case 'stage':
        line(`[cycle ${event.cycle}] ${event.message}`);
        break;
      case 'log':
        if (event.debug) debug(event.message);
        else line(`  ${event.message}`);
        break;
      case 'candidate': {
        // Off a terminal, one line per phase; on it, the run counts update in place.
        const which = `candidate ${event.index + 1}/${event.total}`;
        const text = `[cycle ${event.cycle}] ${which} ${event.phase}: ${event.hypothesis}`;
        const on = event.worker ? ` on ${event.worker}` : '';
        const phase = `${event.cycle}/${event.index}/${event.phase}`;
        candidateOf.set(`${event.cycle}/${event.hypothesis}`, which);
        if (live) line(event.phase === 'gate' ? `${text}${on}` : `${text} (runs: ${event.runs.baseline} baseline, ${event.runs.candidate} candidate${on})`, true);
        else if (!printedPhases.has(phase)) line(`${text}${on}`);
        printedPhases.add(phase);
        break;
      }
      case 'calibration': {
        // Off a terminal, a line at each quarter: a calibration takes minutes on a slow metric.
        const text = `  A/A pair ${event.pairs} of ${event.total}`;
        if (live) line(text, true);
        else if ((event.pairs % Math.ceil(event.total / 4) === 0 || event.pairs === event.total) && text !== calibrationLine) line(text);
        calibrationLine = text;
        break;
      }
      case 'lesson': {
        const which = candidateOf.get(`${event.cycle}/${event.lesson.hypothesis}`);
        line(`[cycle ${event.cycle}]   ${which ? `${which} ` : ''}-> ${evidence(event.lesson, '\n              ')}`);
        break;
      }
      case 'cycle':
        printedPhases.clear();
        candidateOf.clear();
        break;
    }
  };
}

/** A lesson's outcome with its evidence, then one line per guard measured. */
function evidence(lesson: LessonBrief, indent: string): string {
  return [describeOutcome(lesson, { p: true }), ...describeGuards(lesson)].join(indent);
}

function renderSummary(summary: RunSummary): string {
  const out: string[] = [];
  const { name, direction } = summary.metric;
  for (const report of summary.cycles) {
    const b = report.baseline;
    out.push(`cycle ${report.cycle}: baseline ${name} ${metricValue(b.median)} (n=${b.n}${b.deterministic ? ', deterministic' : ''}), noise floor ${percent(report.noiseFloor).slice(1)}, ${direction}`);
    for (const lesson of report.lessons) {
      const mark = lesson.id === report.winner?.id ? '*' : ' ';
      out.push(` ${mark} ${lesson.hypothesis}\n      ${evidence(lesson, '\n      ')}`);
    }
  }
  const all = summary.accumulated;
  if (all) {
    out.push(`\n${name}: original ${metricValue(all.baseline.median)} -> final ${metricValue(all.candidate.median)}, ${describeChange(all)}, measured side by side at the end (${direction})`);
  }
  const counts = Object.entries(summary.outcomes).map(([k, v]) => `${v} ${k}`).join(', ');
  if (summary.stopReason) out.push(`\nstopped early: ${summary.stopReason}`);
  out.push(`\n${summary.cycles.length} cycle(s) in ${(summary.durationMs / 1000).toFixed(1)} s: ${counts || 'no candidates'}${summary.cancelled ? ' (stopped)' : ''}`);
  if (summary.applied.length > 0) out.push(`applied to the workspace: ${summary.applied.map((l) => l.hypothesis).join('; ')}`);
  if (summary.proposal) {
    out.push(`\npending proposal, kept in ${PROPOSAL_FILE} (your files are unchanged; \`rsi apply\` writes it, \`rsi reject\` drops it):\n`);
    out.push(summary.proposal.patch);
  } else if (summary.applied.length === 0) {
    out.push('nothing beat the baseline beyond the noise: your files are unchanged');
  }
  return out.join('\n') + '\n';
}

/**
 * `rsi lessons`: streamed, so a long log starts printing at once and memory stays flat. The text
 * form marks each lesson's verdict, so the verdicts (a quick pass) are read first. The JSON form
 * is one document, written as it is read: the lessons first, then the verdicts and skipped lines.
 */
async function printLessons(workspace: string, json: boolean): Promise<number> {
  let count = 0;
  let result;
  if (json) {
    await write('{"lessons":[');
    result = await streamLessons(workspace, (_, line) => write(`${count++ === 0 ? '\n' : ',\n'}${line.trim()}`));
    await write(`\n],\n"verdicts":${JSON.stringify(Object.fromEntries(result.verdicts))},\n"skippedLines":${JSON.stringify(result.skipped)}}\n`);
  } else {
    const verdicts = await readVerdicts(workspace);
    result = await streamLessons(workspace, (lesson) => {
      count++;
      const verdict = verdicts.get(lesson.id);
      return write(`${lesson.time}  cycle ${lesson.cycle}  ${lesson.hypothesis}\n    ${describeOutcome(lesson, { p: true })}${verdict ? ` (${verdict} by you)` : ''}${describeGuards(lesson).map((g) => `\n    ${g}`).join('')}\n`);
    });
    if (count === 0) await write('no lessons yet: run `rsi cycle`\n');
  }
  if (result.skipped.length > 0) process.stderr.write(`skipped unreadable lines of .rsi/lessons.jsonl: ${result.skipped.join(', ')}\n`);
  return 0;
}

/** Writes to stdout, waiting while the pipe is full: a long listing never piles up in memory. */
async function write(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/**
 * Ends the process once everything written has reached stdout and stderr. A pipe, unlike a file,
 * is written asynchronously: exiting at once would cut the output at the pipe's buffer (64 KiB).
 */
async function exit(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream) => new Promise<void>((resolve) => stream.write('', () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

// A reader that stops early (`rsi lessons | head`) closes the pipe: that is no failure of ours.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(exit, (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`rsi: ${err.message}\n${USAGE}\n`);
    return exit(2);
  }
  if (err instanceof ConfigError) {
    process.stderr.write(`rsi: invalid config: ${err.message}\n`);
    return exit(2);
  }
  // What the user can fix is a sentence; anything else is a bug worth its stack.
  const kind = errorKind(err);
  if (kind === 'cancelled') return exit(130);
  process.stderr.write(`rsi: ${kind === 'user' ? userMessage(err) : (err as Error)?.stack ?? String(err)}\n`);
  return exit(1);
});
