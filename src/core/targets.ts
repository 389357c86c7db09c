import * as path from 'node:path';
import { CONFIG_FILE, ConfigError, type RsiConfig } from './config';
import { scanParameters } from './proposers/tuner';
import { listTargetFiles, readTextOrNull } from './workspace';

/**
 * The target files of a run, checked before anything runs: a glob that matches nothing, or a
 * tuner with no annotated constant, would otherwise measure and calibrate for an empty cycle.
 * Throws a ConfigError whose message says what to fix.
 */
export async function checkTargets(workspace: string, config: RsiConfig, proposerName: string): Promise<string[]> {
  const files = await existingTargets(workspace, config);
  if (proposerName === 'tuner') {
    const annotations: string[] = [];
    const { params } = await scanParameters(files, async (rel) => (await readTextOrNull(path.join(workspace, rel))) ?? '', (m) => annotations.push(m));
    if (params.length === 0) {
      const unreadable = annotations.length > 0 ? ` (${annotations[0]!.replace(/, skipped$/, '')})` : '';
      throw problem(
        `the tuner found no annotated constant in ${listed(files)}${unreadable}; annotate one with its range, ` +
          'e.g. `const FAST = 5; // rsi: int 2..50` (see the README, "The offline tuner")',
      );
    }
  }
  return files;
}

/** The target files; a ConfigError when the globs match none. */
export async function existingTargets(workspace: string, config: RsiConfig): Promise<string[]> {
  const files = await listTargetFiles(workspace, config.targets, config.protected);
  if (files.length === 0) {
    const globs = `${config.targets.map((t) => JSON.stringify(t)).join(', ')} ${config.targets.length === 1 ? 'matches' : 'match'}`;
    const onlyProtected = config.protected.length > 0 && (await listTargetFiles(workspace, config.targets, [])).length > 0;
    const why = onlyProtected
      ? `${globs} only protected files`
      : config.targets.some((t) => t.split('/').includes('node_modules'))
        ? `${globs} no file: node_modules is never a target, so copy (vendor) the dependency into the workspace to tune it`
        : `${globs} no file in the workspace; give paths relative to it, e.g. "src/**/*.js"`;
    throw problem(why);
  }
  return files;
}

function problem(message: string): ConfigError {
  return new ConfigError(CONFIG_FILE, [{ field: 'targets', message }]);
}

/** "a.js, b.js and 3 more". */
function listed(files: string[]): string {
  const shown = files.slice(0, 3).join(', ');
  return files.length > 3 ? `${shown} and ${files.length - 3} more` : shown;
}
