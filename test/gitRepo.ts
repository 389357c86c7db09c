import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const DAY_MS = 86_400_000;

export function tempDir(prefix: string): string {
  return realpathSync(mkdtempSync(join(tmpdir(), prefix)));
}

export function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
}

/** A new repository (native git) in a temp dir. */
export function newRepo(): string {
  const dir = tempDir('rsi-git-');
  git(dir, ['init', '-q']);
  return dir;
}

/**
 * Writes the files (null deletes) and commits them, dated `daysAgo` days back (author and
 * committer), with native git. Returns the commit id.
 */
export function commit(repo: string, message: string, files: Record<string, string | null>, daysAgo = 0): string {
  for (const [rel, text] of Object.entries(files)) {
    const file = join(repo, rel);
    if (text === null) rmSync(file);
    else {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, text);
    }
  }
  const date = new Date(Date.now() - daysAgo * DAY_MS).toISOString();
  git(repo, ['add', '-A']);
  git(repo, ['commit', '-q', '--allow-empty', '-m', message], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
  return git(repo, ['rev-parse', 'HEAD']).trim();
}
