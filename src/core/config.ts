import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import schema from '../../schemas/config.schema.json';
import type { GuardSpec } from '../protocol/evaluation';
import type { MetricReader, MetricSpec } from '../protocol/metric';
import { UserError } from '../protocol/errors';
import type { Direction } from './lessons';

export type { MetricReader };
export type ProposerConfig =
  | 'tuner'
  | { kind: 'tuner' }
  | { kind: 'command'; command: string; args: string[]; env: string[]; timeoutMs: number; samples: number }
  | { kind: 'openai'; baseUrl: string; model: string; apiKeyEnv?: string; temperature: number; maxTokens: number; timeoutMs: number; samples: number }
  | { kind: 'lm'; vendor?: string; family?: string; samples: number };

export type ProposerKind = Exclude<ProposerConfig, string>['kind'];

/** `.rsi/config.json`, with every default filled in. The schema file is the single source of defaults. */
export interface RsiConfig {
  metric: { name: string; command: string; read: MetricReader; direction: Direction };
  guards: GuardConfig[];
  gate: string[];
  targets: string[];
  protected: string[];
  proposer: ProposerConfig;
  candidates: number;
  seed: number;
  sampling: { minRuns: number; maxRuns: number; alpha: number; confirm: boolean; pinPairs: boolean };
  noise: { floor: number | null; calibrationRuns: number; minEffect: number | null };
  limits: { timeoutMs: number; memoryGrowth: number; outputBytes: number };
  context: { budgetChars: number; historyCommits: number; conventions?: string; include: string[] };
  /** Where candidates are evaluated: this machine's slots (`slots` absent: one a core), or the workers of a Redis queue. */
  evaluation: { slots?: number; parallelTiming: boolean; queue: string | null; waitForWorkersSeconds: number };
}

/** A secondary metric that must not get worse beyond `tolerance` (relative). */
export interface GuardConfig {
  name: string;
  command: string;
  read: MetricReader;
  direction: Direction;
  tolerance: number;
}

export const CONFIG_FILE = path.join('.rsi', 'config.json');

/**
 * The smallest relative change a deterministic metric must show to count when `noise.minEffect` is
 * not set. Its runs have no noise, but its input is one fixed sample (a price history, a test set):
 * a gain of a fraction of a percent there is fitted to that sample and rarely carries over to the
 * next one, and a loop that keeps such gains walks the parameters along the sample's accidents.
 */
export const DETERMINISTIC_MIN_EFFECT = 0.01;

/** The smallest relative change worth keeping: the configured one, else the default for the metric's kind. */
export function minEffect(config: RsiConfig, deterministic: boolean): number {
  return config.noise.minEffect ?? (deterministic ? DETERMINISTIC_MIN_EFFECT : 0);
}

export interface ConfigProblem {
  /** Dotted path of the field, e.g. `sampling.minRuns`; empty for the whole file. */
  field: string;
  message: string;
}

/** A config the user must fix; the message names every field at fault. */
export class ConfigError extends UserError {
  constructor(readonly file: string, readonly problems: ConfigProblem[]) {
    super(`${file}: ` + problems.map((p) => (p.field ? `${p.field}: ${p.message}` : p.message)).join('; '));
    this.name = 'ConfigError';
  }
}

const validate = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: false }).compile<RsiConfig>(schema);

export async function loadConfig(workspace: string): Promise<RsiConfig> {
  const file = path.join(workspace, CONFIG_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(file, [{ field: '', message: 'not found: create it (see the README, "Configuration")' }]);
    if (code === 'EISDIR') throw new ConfigError(file, [{ field: '', message: 'is a folder: it must be a JSON file (see the README, "Configuration")' }]);
    if (code === 'EACCES') throw new ConfigError(file, [{ field: '', message: 'cannot be read (permission denied): make it readable by this user' }]);
    throw err;
  }
  return parseConfig(text, file);
}

export function parseConfig(text: string, file = CONFIG_FILE): RsiConfig {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [{ field: '', message: jsonProblem(text, (err as Error).message) }]);
  }
  if (!validate(data)) throw new ConfigError(file, describe(validate.errors ?? []));
  const problems = checkSemantics(data);
  if (problems.length > 0) throw new ConfigError(file, problems);
  fillProposerDefaults(data.proposer);
  // CPU time counts the work wherever it runs, so pinning a pair to one CPU costs it nothing and
  // makes it far quieter; a wall time would lose whatever the command does in parallel.
  data.sampling.pinPairs ??= data.metric.read === 'cpuTime';
  return data;
}

/** "not valid JSON at line 3, column 5: expected ',' or '}' after property value": an editor goes to a line, not an offset. */
function jsonProblem(text: string, message: string): string {
  const offset = jsonErrorOffset(text, message);
  const before = text.slice(0, offset).split('\n');
  const reason = message.replace(/ in JSON at position \d+.*$/s, '').replace(/, (?:\.\.\.)?".*is not valid JSON$/s, '');
  return `not valid JSON at line ${before.length}, column ${before.at(-1)!.length + 1}: ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`;
}

/**
 * Where JSON.parse stopped: the position it reports, or, for the messages that give none
 * ("Unexpected token ']', ... is not valid JSON"), the end of the shortest prefix that fails for
 * another reason than ending early.
 */
function jsonErrorOffset(text: string, message: string): number {
  const reported = /at position (\d+)/.exec(message);
  if (reported) return Number(reported[1]);
  const failsBeforeItsEnd = (prefix: string) => {
    try {
      JSON.parse(prefix);
      return false;
    } catch (err) {
      const m = (err as Error).message;
      const at = /at position (\d+)/.exec(m);
      return !/Unexpected end/.test(m) && (!at || Number(at[1]) < prefix.length);
    }
  };
  let [lo, hi] = [0, text.length];
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (failsBeforeItsEnd(text.slice(0, mid + 1))) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

interface ProposerBranch {
  properties?: Record<string, { const?: string; default?: unknown }>;
}

/** Ajv fills no defaults inside a oneOf: the chosen proposer's come from its branch of the same schema. */
function fillProposerDefaults(proposer: ProposerConfig): void {
  if (typeof proposer === 'string') return;
  const branches = schema.properties.proposer.oneOf as ProposerBranch[];
  const branch = branches.find((b) => b.properties?.['kind']?.const === proposer.kind);
  const target = proposer as Record<string, unknown>;
  for (const [key, property] of Object.entries(branch?.properties ?? {})) {
    if (property.default !== undefined && target[key] === undefined) target[key] = structuredClone(property.default);
  }
}

/** What the schema cannot say. */
function checkSemantics(config: RsiConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const checkRegex = (read: MetricReader, field: string) => {
    if (typeof read !== 'object' || !('regex' in read)) return;
    try {
      new RegExp(read.regex);
    } catch (err) {
      problems.push({ field: `${field}.regex`, message: `not a valid regular expression (${(err as Error).message})` });
    }
  };
  checkRegex(config.metric.read, 'metric.read');
  config.guards.forEach((guard, i) => {
    checkRegex(guard.read, `guards.${i}.read`);
    if (config.guards.findIndex((g) => g.name === guard.name) < i) problems.push({ field: `guards.${i}.name`, message: `"${guard.name}" names another guard already: give each guard its own name` });
  });
  if (config.sampling.maxRuns < config.sampling.minRuns) {
    problems.push({ field: 'sampling.maxRuns', message: `must be at least sampling.minRuns (${config.sampling.minRuns})` });
  }
  return problems;
}

/** Turns Ajv's errors into one line per field, in the user's terms. */
function describe(errors: ErrorObject[]): ConfigProblem[] {
  // A failed oneOf also reports every branch's own errors: keep only the oneOf, described by its schema.
  const oneOfPaths = errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath);
  const kept = errors.filter(
    (e) => e.keyword === 'oneOf' || !oneOfPaths.some((p) => e.instancePath.startsWith(p) && e.schemaPath.includes('/oneOf/')),
  );
  const problems = kept.map((e): ConfigProblem => {
    const field = e.instancePath.split('/').slice(1).join('.');
    const at = (name: string) => (field ? `${field}.${name}` : name);
    switch (e.keyword) {
      case 'required':
        return { field: at(e.params.missingProperty), message: 'missing (required)' };
      case 'additionalProperties': {
        const known = Object.keys((e.parentSchema as { properties?: object }).properties ?? {}).filter((k) => k !== '$schema');
        return { field: at(e.params.additionalProperty), message: `unknown field; expected one of: ${known.join(', ')}` };
      }
      case 'enum':
        return { field, message: `must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` };
      case 'oneOf':
        return { field, message: `must be ${(e.parentSchema as { description?: string }).description ?? 'of another form'}` };
      default:
        return { field, message: e.message ?? 'is invalid' };
    }
  });
  // allErrors can report one field twice (e.g. type and minimum); keep the first.
  return problems.filter((p, i) => problems.findIndex((q) => q.field === p.field) === i);
}

/** What the runner needs to run and read the metric. */
export function metricSpec(config: RsiConfig): MetricSpec {
  const { timeoutMs, outputBytes } = config.limits;
  return { command: config.metric.command, read: config.metric.read, timeoutMs, outputBytes };
}

/** What the runner needs to run, read and judge each guard. */
export function guardSpecs(config: RsiConfig): GuardSpec[] {
  const { timeoutMs, outputBytes } = config.limits;
  return config.guards.map(({ name, command, read, direction, tolerance }) => ({ name, metric: { command, read, timeoutMs, outputBytes }, direction, tolerance }));
}
