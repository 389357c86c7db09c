import * as vscode from 'vscode';
import type { ProposerConfig } from '../core/config';
import { atMostCandidates, proposalsFromAnswer } from '../core/proposers/answer';
import { ProposerError } from '../core/proposers/errors';
import { ROLE } from '../core/proposers/format';
import { promptParts } from '../core/proposers/prompt';
import type { Proposal, ProposeContext, Proposer } from '../core/proposers/types';
import { CancelledError } from '../protocol/runner';

export type LmConfig = Extract<ProposerConfig, { kind: 'lm' }>;

/**
 * VS Code's Language Model API as a proposer (Copilot or any extension that provides a chat
 * model). Lives in the engine bundle: it loads with the first cycle, not at activation.
 */
export function createLmProposer(config: LmConfig): Proposer {
  let model: vscode.LanguageModelChat | undefined;
  return {
    // Lessons are named after the model that answered, once one is picked: "lm:copilot/gpt-4o".
    get name() {
      return model ? `lm:${model.vendor}/${model.id}` : 'lm';
    },
    async propose(ctx: ProposeContext): Promise<Proposal[]> {
      model = await pickModel(config);
      ctx.log(`asking ${model.name} (vendor ${model.vendor}, family ${model.family}, id ${model.id}) for ${ctx.count} candidates in ${config.samples} request(s)`);
      const { context, instructions } = await promptParts(ctx, Math.ceil(ctx.count / config.samples));
      // The API has no system role: the instructions open the user's message.
      const messages = [vscode.LanguageModelChatMessage.User(`${ROLE}\n\n${instructions}\n\n${context}`)];
      const proposals: Proposal[] = [];
      for (let sample = 0; sample < config.samples; sample++) {
        proposals.push(...proposalsFromAnswer(await ask(model, messages, ctx.signal)));
      }
      return atMostCandidates(proposals, ctx.count, ctx.log);
    },
  };
}

async function pickModel(config: LmConfig): Promise<vscode.LanguageModelChat> {
  const selector = { ...(config.vendor && { vendor: config.vendor }), ...(config.family && { family: config.family }) };
  const [model] = await vscode.lm.selectChatModels(selector);
  if (model) return model;
  const wanted = config.vendor || config.family ? ` matching ${JSON.stringify(selector)}` : '';
  throw new ProposerError(
    `no language model${wanted} is available: install and sign in to an extension that provides one (for example GitHub Copilot), ` +
      'or set "proposer" in .rsi/config.json to "tuner", "command" or "openai"',
  );
}

async function ask(model: vscode.LanguageModelChat, messages: vscode.LanguageModelChatMessage[], signal: AbortSignal): Promise<string> {
  if (signal.aborted) throw new CancelledError();
  const cancellation = new vscode.CancellationTokenSource();
  const onAbort = () => cancellation.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const response = await model.sendRequest(messages, { justification: 'RSI Loop asks for code changes to test against your metric.' }, cancellation.token);
    let text = '';
    for await (const chunk of response.text) text += chunk;
    // A provider may end its stream quietly when cancelled: what it sent so far is no answer.
    if (signal.aborted) throw new CancelledError();
    return text;
  } catch (err) {
    if (signal.aborted) throw new CancelledError();
    if (err instanceof vscode.LanguageModelError) throw new ProposerError(refusal(model, err));
    throw err;
  } finally {
    signal.removeEventListener('abort', onAbort);
    cancellation.dispose();
  }
}

/** What to do about a model's refusal, by its code. */
function refusal(model: vscode.LanguageModelChat, err: vscode.LanguageModelError): string {
  const which = `the language model ${model.name} (${model.vendor}/${model.id})`;
  const another = 'or pick another with "vendor" and "family" of "proposer" in .rsi/config.json';
  switch (err.code) {
    case 'NoPermissions':
      return `RSI Loop may not use ${which} (${err.message}): allow it when VS Code asks on the next run, ${another}`;
    case 'Blocked':
      return `${which} refused the request (${err.message}), often a quota or rate limit: try again later, ${another}`;
    case 'NotFound':
      return `${which} is not available anymore (${err.message}): check that the extension providing it is installed and signed in, ${another}`;
    default:
      return `${which} failed: ${err.message} (${err.code})`;
  }
}
