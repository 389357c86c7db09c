import { setTimeout as delay } from 'node:timers/promises';
import { clip } from '../text';
import type { ProposerConfig } from '../config';
import { atMostCandidates, proposalsFromAnswer } from './answer';
import { ProposerError } from './errors';
import { ROLE } from './format';
import { promptParts } from './prompt';
import type { Proposal, ProposeContext, Proposer } from './types';

/**
 * An OpenAI-compatible chat-completions endpoint as a proposer (hosted APIs, Ollama, LM Studio,
 * vLLM, llama.cpp's server...).
 *
 * What goes wrong with the endpoint (key refused, no such model, nothing listening, too slow,
 * rate limited past the retries) throws a ProposerError: the run stops with a message that says
 * what to fix, since such a failure teaches nothing about the code. What goes wrong with an answer
 * (no edit, a block that cannot be read) becomes an `invalid` lesson with the answer kept.
 *
 * The API key never leaves the Authorization header: it is not logged, and any text shown to the
 * user (server messages included) has it masked.
 */
export type OpenAiConfig = Extract<ProposerConfig, { kind: 'openai' }>;

export interface OpenAiOptions {
  /** A key from the editor's SecretStorage: used instead of the environment variable. */
  apiKey?: string;
  /** First wait of the exponential backoff between retries (tests shorten it); default 1000 ms. */
  backoffMs?: number;
}

/** Attempts of one request when the endpoint answers 429, 5xx or drops the connection. */
export const MAX_ATTEMPTS = 4;
/** A Retry-After longer than this stops the run instead of holding it. */
const MAX_RETRY_AFTER_MS = 60_000;
const RETRYABLE_NETWORK = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

interface Completion {
  text: string;
  /** The model stopped at max_tokens: the answer may be cut. */
  cut: boolean;
}

export function createOpenAiProposer(config: OpenAiConfig, options: OpenAiOptions = {}): Proposer {
  return {
    name: `openai:${config.model}`,
    async propose(ctx: ProposeContext): Promise<Proposal[]> {
      const endpoint = new Endpoint(config, keyOf(config, options), options, ctx);
      const { context, instructions } = await promptParts(ctx, Math.ceil(ctx.count / config.samples));
      const messages = [
        { role: 'system', content: `${ROLE}\n\n${instructions}` },
        { role: 'user', content: context },
      ];
      const completions = await endpoint.complete(messages, config.samples);
      if (completions.length < config.samples) {
        endpoint.log(`the server returned ${completions.length} of ${config.samples} completions (it ignores n): asking for the rest one by one`);
        while (completions.length < config.samples) completions.push(...(await endpoint.complete(messages, 1)));
      }
      const cutNote = `the answer stopped at proposer.maxTokens (${config.maxTokens}): raise it if the answers are cut`;
      const proposals = completions.flatMap((c) => proposalsFromAnswer(endpoint.mask(c.text), c.cut ? cutNote : undefined));
      return atMostCandidates(proposals, ctx.count, (message) => endpoint.log(message));
    },
  };
}

function keyOf(config: OpenAiConfig, options: OpenAiOptions): string | undefined {
  if (options.apiKey) return options.apiKey;
  if (config.apiKeyEnv === undefined) return undefined;
  const key = process.env[config.apiKeyEnv];
  if (!key) {
    throw new ProposerError(
      `the environment variable ${config.apiKeyEnv} (proposer.apiKeyEnv) is not set: export it with your API key, or remove apiKeyEnv for a server that needs no key`,
    );
  }
  return key;
}

class Endpoint {
  private readonly url: string;

  constructor(
    private readonly config: OpenAiConfig,
    private readonly key: string | undefined,
    private readonly options: OpenAiOptions,
    private readonly ctx: ProposeContext,
  ) {
    this.url = `${config.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  /** Masks the key in any text bound for the user. */
  mask(text: string): string {
    return this.key ? text.split(this.key).join('[API key]') : text;
  }

  log(message: string): void {
    this.ctx.log(this.mask(`openai: ${message}`));
  }

  /** One request for `n` completions, retried on 429, 5xx and dropped connections. */
  async complete(messages: object[], n: number): Promise<Completion[]> {
    const { model, temperature, maxTokens, timeoutMs } = this.config;
    const body = JSON.stringify({ model, messages, temperature, max_tokens: maxTokens, ...(n > 1 && { n }) });
    const headers = { 'content-type': 'application/json', ...(this.key && { authorization: `Bearer ${this.key}` }) };
    this.log(`asking ${model} for ${n} completion(s)`);
    for (let attempt = 1; ; attempt++) {
      const timeout = AbortSignal.timeout(timeoutMs);
      let status: number;
      let text: string;
      let retryAfter: string | null;
      try {
        const response = await fetch(this.url, { method: 'POST', headers, body, signal: AbortSignal.any([this.ctx.signal, timeout]) });
        [status, retryAfter, text] = [response.status, response.headers.get('retry-after'), await response.text()];
      } catch (err) {
        if (this.ctx.signal.aborted) throw err; // cancelled: the cycle knows
        if (timeout.aborted) throw this.stop(`no answer within ${timeoutMs} ms from ${this.url}: raise proposer.timeoutMs, or use a faster model`);
        const code = networkCode(err);
        if (code === 'ECONNREFUSED') throw this.stop(`nothing listens at ${this.config.baseUrl}: is the server (e.g. Ollama, LM Studio) running?`);
        if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') throw this.stop(`cannot find the host of ${this.config.baseUrl}: check proposer.baseUrl`);
        if (!(code && RETRYABLE_NETWORK.has(code)) || attempt === MAX_ATTEMPTS) {
          throw this.stop(`cannot reach ${this.config.baseUrl}: ${code ?? (err as Error).message}`);
        }
        await this.wait(attempt, null, `the connection dropped (${code})`);
        continue;
      }
      if (status >= 200 && status < 300) return this.completions(text);
      if ((status === 429 || status >= 500) && attempt < MAX_ATTEMPTS) {
        await this.wait(attempt, retryAfter, `HTTP ${status}`);
        continue;
      }
      throw this.stop(this.refusal(status, text));
    }
  }

  /** Waits before the next attempt: the server's Retry-After, or an exponential backoff with jitter. */
  private async wait(attempt: number, retryAfter: string | null, why: string): Promise<void> {
    const asked = retryAfterMs(retryAfter);
    if (asked !== undefined && asked > MAX_RETRY_AFTER_MS) {
      throw this.stop(`the endpoint asks to wait ${Math.round(asked / 1000)} s (${why}): try again later`);
    }
    const base = this.options.backoffMs ?? 1000;
    const ms = asked ?? base * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
    this.log(`${why}; retrying in ${(ms / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${MAX_ATTEMPTS})`);
    await delay(ms, undefined, { signal: this.ctx.signal });
  }

  private completions(text: string): Completion[] {
    let data: { choices?: unknown; error?: unknown };
    try {
      data = JSON.parse(text) as typeof data;
    } catch {
      throw this.stop(`the answer of ${this.url} is not JSON ("${clip(oneLine(text), 300)}"): is proposer.baseUrl an OpenAI-compatible API (usually ending in /v1)?`);
    }
    if (!Array.isArray(data.choices) || data.choices.length === 0) {
      throw this.stop(data.error ? `the endpoint reported an error: ${serverMessage(text)}` : `the answer of ${this.url} holds no choices: is it a chat-completions API?`);
    }
    return (data.choices as { message?: { content?: unknown }; finish_reason?: string }[]).map((choice) => ({
      text: contentText(choice.message?.content),
      cut: choice.finish_reason === 'length',
    }));
  }

  /** What a refusal means for the user; the server's own words are left out of key errors (some echo part of the key). */
  private refusal(status: number, text: string): string {
    const { apiKeyEnv, baseUrl, model } = this.config;
    if (status === 401 || status === 403) {
      if (this.key === undefined) return `the endpoint wants an API key (HTTP ${status}): set proposer.apiKeyEnv to the environment variable that holds it`;
      const where = this.options.apiKey ? 'the API key stored in the editor' : `the environment variable ${apiKeyEnv}`;
      return `the endpoint refused the key (HTTP ${status}): check ${where}`;
    }
    const said = serverMessage(text);
    if (status === 404) return `no such model or endpoint (HTTP 404 at ${this.url}): check proposer.baseUrl (usually ending in /v1) and proposer.model ("${model}")${said}`;
    if (status === 429) return `the endpoint still answers HTTP 429 (rate limited) after ${MAX_ATTEMPTS} attempts: wait, or ask for fewer candidates${said}`;
    if (status >= 500) return `the endpoint at ${baseUrl} failed with HTTP ${status} ${MAX_ATTEMPTS} times in a row${said}`;
    return `the endpoint refused the request (HTTP ${status})${said}`;
  }

  private stop(message: string): ProposerError {
    return new ProposerError(this.mask(message));
  }
}

function networkCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.[0]?.code;
}

function retryAfterMs(header: string | null): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** The server's explanation from an error body, as `: message`, or nothing. */
function serverMessage(text: string): string {
  let message: unknown = text;
  try {
    const data = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    message = typeof data.error === 'string' ? data.error : data.error?.message ?? data.message ?? text;
  } catch {
    // not JSON: the text itself
  }
  const said = String(message).trim();
  return said ? `: ${clip(oneLine(said), 300)}` : '';
}

/** A message's content: a string, or (some servers) an array of text parts. */
function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((part: { text?: unknown }) => (typeof part?.text === 'string' ? part.text : '')).join('');
  return '';
}

/** Whitespace runs as single spaces: a server's reply quoted in one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
