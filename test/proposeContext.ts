import type { ProposeContext } from '../src/core/proposers/types';

/** A ProposeContext over in-memory files, collecting what the proposer logs; its prompt is the files' text. */
export function proposeContext(
  files: Record<string, string>,
  overrides: Partial<ProposeContext> = {},
): ProposeContext & { logs: string[] } {
  const logs: string[] = [];
  return {
    scope: { targets: Object.keys(files), protected: [] },
    targetFiles: Object.keys(files),
    readFile: async (p) => {
      if (!(p in files)) throw new Error(`no such file ${p}`);
      return files[p]!;
    },
    count: 4,
    cycle: 1,
    seed: 1,
    lessons: [],
    verdicts: new Map(),
    metric: { name: 'score', direction: 'maximize' },
    signal: new AbortController().signal,
    prompt: async () => Object.entries(files).map(([p, text]) => `${p}:\n${text}`).join('\n'),
    log: (message) => logs.push(message),
    logs,
    ...overrides,
  };
}
