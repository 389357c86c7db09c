import { ANSWER_FORMAT, candidateRequest } from './format';
import type { ProposeContext } from './types';

/** What a model proposer sends: the context (data) and the instructions (how to answer, how many). */
export interface PromptParts {
  context: string;
  instructions: string;
}

/** The context memory, and the answer format unless the context already carries it, so a model reads it once. */
export async function promptParts(ctx: ProposeContext, count: number): Promise<PromptParts> {
  const context = await ctx.prompt();
  const request = candidateRequest(count);
  return { context, instructions: context.includes(ANSWER_FORMAT) ? request : `${ANSWER_FORMAT}\n\n${request}` };
}
