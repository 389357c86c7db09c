import { ANSWER_FORMAT, candidateRequest } from './format';
import type { ProposeContext } from './types';

/** What a model proposer sends: the context (data) and the instructions (how to answer, how many). */
export interface PromptParts {
  context: string;
  instructions: string;
}

/** Target file contents in the fallback context stop here (the schema's default context budget). */
const FALLBACK_BUDGET_CHARS = 60_000;

/**
 * The context memory when the engine provides it, otherwise a minimal one; the answer format is
 * added unless the context already carries it, so a model reads it once.
 */
export async function promptParts(ctx: ProposeContext, count: number): Promise<PromptParts> {
  const context = ctx.prompt ? await ctx.prompt() : await fallbackContext(ctx);
  const request = candidateRequest(count);
  return { context, instructions: context.includes(ANSWER_FORMAT) ? request : `${ANSWER_FORMAT}\n\n${request}` };
}

/** The goal and the target files' contents, for an engine without a context builder. */
async function fallbackContext(ctx: ProposeContext): Promise<string> {
  const { name, direction } = ctx.metric;
  const goal = `${direction === 'maximize' ? 'Raise' : 'Lower'} the metric "${name}" (${direction}).`;
  const parts = [`## Goal\n\n${goal}`, '## Target files\n\nYou may change only these files.'];
  let room = FALLBACK_BUDGET_CHARS;
  for (const file of ctx.targetFiles) {
    const text = await ctx.readFile(file);
    if (text.length > room) {
      parts.push(`\`${file}\` (not shown: over the size budget)`);
      continue;
    }
    room -= text.length;
    parts.push(`\`${file}\`\n${fenced(text)}`);
  }
  return parts.join('\n\n');
}

/** A fence longer than any backtick run inside, so the content cannot close it. */
function fenced(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return `${fence}\n${text}${text.endsWith('\n') ? '' : '\n'}${fence}`;
}
