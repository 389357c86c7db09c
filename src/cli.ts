/**
 * `rsi`: the same cycle as the extension, headless (CI, nightly runs, benchmarks).
 * Exit codes: 0 cycles ran (kept or not), 1 engine failure, 2 usage or config error.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { calibrate, readCalibration } from './core/calibration';
import { ConfigError, loadConfig, type ProposerKind } from './core/config';
import { contextPrompt, historyFromRunner } from './core/context';
import { describeCalibration, describeChange, describeOutcome, metricValue, percent } from './core/format';
import { EngineStop, runCycles, type EngineEvent, type RunSummary } from './core/cycle';
import { readLessons } from './core/lessons';
import { PROPOSER_KINDS, ProposerError } from './core/proposers';
import { listTargetFiles, readTextOrNull } from './core/workspace';
import { RunnerClient } from './runner/client';

const USAGE = `usage:
  rsi cycle [--cycles N] [--proposer NAME] [--auto-accept] [--json] [--workspace DIR]
  rsi calibrate [--json] [--workspace DIR]
  rsi lessons [--json] [--workspace DIR]
  rsi context [--workspace DIR]   print what a model proposer is told (runs nothing of the workspace)

  --cycles N        cycles to run (default 1); each kept winner is the next cycle's baseline
  --proposer NAME   who proposes changes: ${PROPOSER_KINDS.join(', ')} (default: the config's)
  --auto-accept     write each kept winner to the workspace; without it your files are never written
  --json            print the result as JSON on stdout (progress stays on stderr)
  --workspace DIR   the workspace holding .rsi/config.json (default: the current directory)`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        cycles: { type: 'string' },
        proposer: { type: 'string' },
        'auto-accept': { type: 'boolean' },
        json: { type: 'boolean' },
        workspace: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...extra] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE + '\n');
    return values.help ? 0 : 2;
  }
  if (extra.length > 0) throw new UsageError(`unexpected argument: ${extra[0]}`);
  const workspace = path.resolve(values.workspace ?? '.');

  if (command === 'lessons') return printLessons(workspace, values.json ?? false);
  if (command === 'context') return printContext(workspace);
  if (command !== 'cycle' && command !== 'calibrate') throw new UsageError(`unknown command: ${command}`);

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
  const runner = newRunner();
  const options = {
    workspace,
    runner,
    storageRoot: storageRoot(),
    proposer: proposerName as ProposerKind | undefined,
    autoAccept: values['auto-accept'] ?? false,
    signal: controller.signal,
    onEvent: progressPrinter(),
  };
  try {
    if (command === 'calibrate') {
      const { previous, ...calibration } = await calibrate(options);
      if (values.json) process.stdout.write(JSON.stringify({ ...calibration, previous }, null, 2) + '\n');
      else process.stdout.write(`${describeCalibration(calibration, previous)}; saved to .rsi/calibration.json\n`);
      return controller.signal.aborted ? 130 : 0;
    }
    const summary = await runCycles(options, cycles);
    process.stdout.write(values.json ? JSON.stringify(summary, null, 2) + '\n' : renderSummary(summary));
    return summary.cancelled ? 130 : 0;
  } finally {
    await runner.dispose();
  }
}

function newRunner(): RunnerClient {
  return new RunnerClient({ runnerPath: path.join(__dirname, 'runner.js'), log: (line) => process.stderr.write(line + '\n') });
}

/** Where sandboxes (and the git history index) live: outside the workspace. */
function storageRoot(): string {
  return process.env.RSI_SANDBOX_ROOT ?? path.join(os.tmpdir(), 'rsi-sandboxes');
}

/**
 * `rsi context`: the text a model proposer is sent, on stdout. Nothing of the workspace runs: the
 * baseline is the latest lesson's and the noise floor the cached calibration's, where a cycle
 * measures both afresh. The runner only reads the git history.
 */
async function printContext(workspace: string): Promise<number> {
  const config = await loadConfig(workspace);
  const { lessons, verdicts } = await readLessons(workspace);
  const calibration = await readCalibration(workspace, config.metric.command);
  const measured = [...lessons].reverse().find((l) => l.metric)?.metric;
  // Without a calibration (a deterministic metric is never calibrated), a zero-width interval says the runs did not vary.
  const deterministic = calibration?.deterministic ?? (measured !== undefined && measured.ci[0] === measured.ci[1]);
  const runner = newRunner();
  try {
    const text = await contextPrompt({
      workspace,
      config,
      targetFiles: await listTargetFiles(workspace, config.targets, config.protected),
      readFile: async (rel) => (await readTextOrNull(path.join(workspace, rel))) ?? '',
      lessons,
      verdicts,
      baseline: measured && { median: measured.baseline.median, n: measured.baseline.n, deterministic },
      noiseFloor: config.noise.floor ?? calibration?.floor,
      history: historyFromRunner(runner, workspace, storageRoot(), config),
      log: (message) => process.stderr.write(`${message}\n`),
    });
    process.stdout.write(text);
    const baseline = measured ? 'the baseline is the latest lesson\'s; a cycle measures it afresh' : 'no baseline measured yet';
    process.stderr.write(`${text.length} characters (budget ${config.context.budgetChars}); ${baseline}\n`);
    return 0;
  } finally {
    await runner.dispose();
  }
}

/** One stderr line per stage and candidate phase; on a terminal the run counts update in place. */
function progressPrinter(): (event: EngineEvent) => void {
  const live = process.stderr.isTTY;
  let open = false;
  const line = (text: string, transient = false) => {
    if (open) process.stderr.write(live ? '\r\x1b[K' : '\n');
    process.stderr.write(text + (transient && live ? '' : '\n'));
    open = transient && live;
  };
  let lastPhase = '';
  return (event) => {
    switch (event.kind) {
      case 'stage':
        line(`[cycle ${event.cycle}] ${event.message}`);
        break;
      case 'log':
        line(`  ${event.message}`);
        break;
      case 'candidate': {
        // Off a terminal, one line per phase; on it, the run counts update in place.
        const text = `[cycle ${event.cycle}] candidate ${event.index + 1}/${event.total} ${event.phase}: ${event.hypothesis}`;
        if (live) line(event.phase === 'gate' ? text : `${text} (runs: ${event.runs.baseline} baseline, ${event.runs.candidate} candidate)`, true);
        else if (`${event.cycle}/${event.index}/${event.phase}` !== lastPhase) line(text);
        lastPhase = `${event.cycle}/${event.index}/${event.phase}`;
        break;
      }
      case 'calibration':
        // Off a terminal, a line at each quarter: a calibration takes minutes on a slow metric.
        if (live) line(`  A/A pair ${event.pairs} of ${event.total}`, true);
        else if (event.pairs % Math.ceil(event.total / 4) === 0 || event.pairs === event.total) line(`  A/A pair ${event.pairs} of ${event.total}`);
        break;
      case 'lesson':
        line(`[cycle ${event.cycle}]   -> ${describeOutcome(event.lesson, { p: true })}`);
        break;
      case 'cycle':
        break;
    }
  };
}

function renderSummary(summary: RunSummary): string {
  const out: string[] = [];
  const { name, direction } = summary.metric;
  for (const report of summary.cycles) {
    const b = report.baseline;
    out.push(`cycle ${report.cycle}: baseline ${name} ${metricValue(b.median)} (n=${b.n}${b.deterministic ? ', deterministic' : ''}), noise floor ${percent(report.noiseFloor).slice(1)}, ${direction}`);
    for (const lesson of report.lessons) {
      const mark = lesson === report.winner ? '*' : ' ';
      out.push(` ${mark} ${lesson.hypothesis}\n      ${describeOutcome(lesson, { p: true })}`);
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
    out.push(`\npending proposal (your files are unchanged; run with --auto-accept to apply, or apply this diff):\n`);
    out.push(summary.proposal.patch);
  } else if (summary.applied.length === 0) {
    out.push('nothing beat the baseline beyond the noise: your files are unchanged');
  }
  return out.join('\n') + '\n';
}

async function printLessons(workspace: string, json: boolean): Promise<number> {
  const log = await readLessons(workspace);
  if (json) {
    process.stdout.write(JSON.stringify({ lessons: log.lessons, verdicts: Object.fromEntries(log.verdicts), skippedLines: log.skipped }, null, 2) + '\n');
    return 0;
  }
  if (log.lessons.length === 0) process.stdout.write('no lessons yet: run `rsi cycle`\n');
  for (const lesson of log.lessons) {
    const verdict = log.verdicts.get(lesson.id);
    process.stdout.write(`${lesson.time}  cycle ${lesson.cycle}  ${lesson.hypothesis}\n    ${describeOutcome(lesson, { p: true })}${verdict ? ` (${verdict} by you)` : ''}\n`);
  }
  if (log.skipped.length > 0) process.stderr.write(`skipped unreadable lines of .rsi/lessons.jsonl: ${log.skipped.join(', ')}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`rsi: ${err.message}\n${USAGE}\n`);
      process.exit(2);
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`rsi: invalid config: ${err.message}\n`);
      process.exit(2);
    }
    // What the user can fix is a sentence; anything else is a bug worth its stack.
    const known = err instanceof EngineStop || err instanceof ProposerError;
    process.stderr.write(`rsi: ${known ? (err as Error).message : (err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
