import { parseAnswer } from './parse';
import type { Proposal } from './types';

/**
 * One model answer as proposals: one per candidate read, plus one proposal with an error for what
 * could not be read, so it becomes an `invalid` lesson showing the raw answer. Every proposal keeps
 * the answer as `raw`: a candidate whose patch then fails to apply shows what the model said too.
 *
 * @param note said after the problems, e.g. that the answer hit the token limit.
 */
export function proposalsFromAnswer(answer: string, note?: string): Proposal[] {
  const { candidates, problems } = parseAnswer(answer);
  const proposals: Proposal[] = candidates.map((c) => ({ hypothesis: c.hypothesis, edits: c.edits, raw: answer }));
  if (problems.length > 0) {
    proposals.push({
      hypothesis: candidates.length > 0 ? 'a part of the answer that could not be read' : 'an answer that could not be read',
      edits: [],
      error: [...problems, ...(note ? [note] : [])].join('\n'),
      raw: answer,
    });
  }
  return proposals;
}

/** Proposals that failed to run or parse are kept (they are lessons); candidates beyond `count` are dropped. */
export function atMostCandidates(proposals: Proposal[], count: number, log: (message: string) => void): Proposal[] {
  let candidates = 0;
  const kept = proposals.filter((p) => p.error !== undefined || ++candidates <= count);
  if (candidates > count) log(`${candidates - count} candidate(s) beyond the ${count} asked for were dropped`);
  return kept;
}
