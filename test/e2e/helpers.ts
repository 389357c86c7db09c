import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const CLI = path.resolve(__dirname, '../../dist/cli.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI; sandboxes go to a temp root of the test's own. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Writes a workspace from a map of relative paths to contents; returns its path. */
export async function makeWorkspace(files: Record<string, string | object>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'rsi-e2e-'));
  for (const [rel, content] of Object.entries(files)) {
    const file = path.join(dir, rel);
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  }
  return dir;
}

/** Every file under dir (but .rsi, the loop's own folder) with its bytes. */
export async function snapshot(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const walk = async (d: string, rel: string) => {
    for (const entry of await fs.readdir(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (r !== '.rsi') await walk(path.join(d, entry.name), r);
      } else files.set(r, (await fs.readFile(path.join(d, entry.name))).toString('base64'));
    }
  };
  await walk(dir, '');
  return files;
}

export async function readLessonLines(dir: string): Promise<Array<Record<string, any>>> {
  const text = await fs.readFile(path.join(dir, '.rsi/lessons.jsonl'), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}
