import { readUnifiedDiff, startsDiff, type DiffReading } from './readDiff';
import { clip } from '../text';
import type { Edit } from './types';

/**
 * Reads what a model returns (the forms of format.ts): unified diffs, SEARCH/REPLACE blocks and
 * whole files in fenced blocks named by path, in one or more candidates that each begin with a
 * `Hypothesis:` line or a `## Candidate N` heading. Strict: a candidate with any block that cannot
 * be read is dropped whole (a part of a change is another experiment), and the problem says where.
 * Paths are passed through as written; patch.ts decides what may be changed.
 */
export interface ParsedCandidate {
  hypothesis: string;
  edits: Edit[];
}

export interface ParsedAnswer {
  candidates: ParsedCandidate[];
  /** Why parts of the answer were not read, with answer line numbers; empty when all was read. */
  problems: string[];
}

export const NO_EDIT = 'the answer contains no edit';

type Fence = { kind: 'fence'; at: number; info: string; body: string[]; closed: boolean; label?: string };
/** A piece of the answer; `at` is its 1-based line number. */
type Token =
  | { kind: 'text'; at: number; line: string }
  | Fence
  | { kind: 'diff'; at: number; reading: DiffReading }
  | { kind: 'searchReplace'; at: number; lines: string[] };

interface Section {
  at: number;
  hypothesis?: string;
  /** What follows `## Candidate N` on its heading line ('' for nothing); undefined without a heading. */
  heading?: string;
  tokens: Token[];
}

const HYPOTHESIS = /^\s*(?:[-*>]\s+)?(?:#{1,6}\s*)?[*_]{0,2}hypothesis(?:\s+\d+)?[*_]{0,2}\s*:[*_]{0,2}\s*(.*?)\s*[*_]{0,2}\s*$/i;
/** The text of the last `Hypothesis:` line in `text` (an agent's summary may restate it), if any. */
export function lastHypothesis(text: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) found = HYPOTHESIS.exec(line)?.[1] || found;
  return found;
}

const CANDIDATE_HEADING = /^\s*(?:#{1,6}\s*|\*\*)candidate\b\s*#?\d*\s*[:.)-]?\s*(?:\*\*)?\s*(.*?)\s*(?:\*\*)?\s*$/i;
const HUNK_START = /^@@ -\d/;
const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const SEARCH = /^<{5,9} ?SEARCH\s*$/;
const DIVIDER = /^={5,9}\s*$/;
const REPLACE = /^>{5,9} ?REPLACE\s*$/;
/**
 * A comment standing for code left out ("// ...", "# ... existing code ...", "// rest of the file
 * unchanged"): a whole file with one is not whole. Only comments that begin so: "// Loading..." is code.
 */
const ELISION = /^\s*(?:\/\/|#|\/\*|<!--|--|;)\s*\(?\s*(?:\.\.\.|…|(?:the )?(?:rest|remainder) of\b|(?:existing|unchanged|remaining|other|previous) (?:code|methods|functions|lines)\b)/i;

export function parseAnswer(text: string): ParsedAnswer {
  const lines = withoutThinking(text).replace(/\r\n?/g, '\n').split('\n');
  const candidates: ParsedCandidate[] = [];
  const problems: string[] = [];
  const snippets: number[] = [];
  for (const section of sections(tokenize(lines))) {
    const read = readSection(section, snippets);
    const named = section.hypothesis !== undefined || section.heading !== undefined;
    if (read.problems.length > 0) problems.push(...read.problems.map((p) => `${describe(section)}: ${p}`));
    else if (read.edits.length > 0) candidates.push({ hypothesis: hypothesisOf(section, read.edits), edits: read.edits });
    else if (named) problems.push(`${describe(section)}: no edit follows it`);
  }
  if (candidates.length === 0 && problems.length === 0) {
    const hint = snippets.length > 0 ? ` (the code block at line ${snippets[0]} names no file: start it with \`\`\`LANG path=FILE, or use a diff)` : '';
    problems.push(NO_EDIT + hint);
  }
  return { candidates, problems };
}

/** Reasoning models may put drafts in <think> blocks: they are not the answer. Line numbers are kept. */
function withoutThinking(text: string): string {
  return text.replace(/<think>[\s\S]*?(?:<\/think>|$)/g, (block) => block.replace(/[^\n]/g, ''));
}

function tokenize(lines: string[]): Token[] {
  const tokens: Token[] = [];
  let label: string | undefined; // a path alone on the last non-blank line
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      const [indent, marks, info] = [fence[1]!, fence[2]!, fence[3]!];
      const close = new RegExp(`^${indent}${marks[0] === '`' ? '`' : '~'}{${marks.length},}\\s*$`);
      let j = i + 1;
      while (j < lines.length && !close.test(lines[j]!)) j++;
      const body = lines.slice(i + 1, j).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
      tokens.push({ kind: 'fence', at: i + 1, info: info.trim(), body, closed: j < lines.length, ...(label && { label }) });
      i = j + 1;
    } else if (SEARCH.test(line)) {
      let j = i + 1;
      while (j < lines.length && !REPLACE.test(lines[j]!)) j++;
      tokens.push({ kind: 'searchReplace', at: i + 1, lines: lines.slice(i, j + 1) });
      i = j + 1;
    } else if (startsDiff(lines, i)) {
      const reading = readUnifiedDiff(lines.slice(i), i + 1, undefined, true);
      tokens.push({ kind: 'diff', at: i + 1, reading });
      i += Math.max(reading.end, 1);
    } else {
      tokens.push({ kind: 'text', at: i + 1, line });
      i++;
      if (line.trim() !== '') label = pathLine(line);
      continue;
    }
    label = undefined;
  }
  return tokens;
}

/** Splits at candidate headings and Hypothesis lines; a heading's own Hypothesis line does not split again. */
function sections(tokens: Token[]): Section[] {
  const all: Section[] = [{ at: 1, tokens: [] }];
  for (const token of tokens) {
    let current = all[all.length - 1]!;
    if (token.kind === 'text') {
      const heading = CANDIDATE_HEADING.exec(token.line);
      const hypothesis = HYPOTHESIS.exec(token.line);
      if (heading) {
        all.push({ at: token.at, heading: heading[1]!, tokens: [] });
        continue;
      }
      if (hypothesis) {
        const headingOnly = current.heading !== undefined && current.hypothesis === undefined && !current.tokens.some(isEdit);
        if (!headingOnly) all.push((current = { at: token.at, tokens: [] }));
        current.hypothesis = hypothesis[1]!;
        continue;
      }
    }
    current.tokens.push(token);
  }
  return all;
}

function isEdit(token: Token): boolean {
  return token.kind !== 'text' && (token.kind !== 'fence' || fenceKind(token) !== 'snippet');
}

function readSection(section: Section, snippets: number[]): { edits: Edit[]; problems: string[] } {
  const edits: Edit[] = [];
  const problems: string[] = [];
  let path: string | undefined; // the file SEARCH/REPLACE blocks apply to: the last one named
  const take = (read: { edits: Edit[]; problems: string[] }) => {
    edits.push(...read.edits);
    problems.push(...read.problems);
    if (read.edits.length > 0) path = read.edits[read.edits.length - 1]!.path;
  };
  for (const token of section.tokens) {
    if (token.kind === 'text') {
      path = pathLine(token.line) ?? path;
      // Hunks cut off from their diff by prose: applying the rest alone would test another change.
      if (HUNK_START.test(token.line)) problems.push(`line ${token.at}: a hunk outside any diff (no ---/+++ lines before it)`);
    } else if (token.kind === 'diff') take(token.reading);
    else if (token.kind === 'searchReplace') take(readSearchReplace(token.lines, token.at, path));
    else {
      const kind = fenceKind(token);
      if (kind === 'snippet') snippets.push(token.at);
      else if (!token.closed) problems.push(`line ${token.at}: the block opened here is never closed (was the answer cut off?)`);
      else if (kind === 'searchReplace') take(readSearchReplace(token.body, token.at + 1, path));
      else if (kind === 'diff') take(readUnifiedDiff(token.body, token.at + 1, infoPath(token.info) ?? token.label));
      else take(readWholeFile(token));
    }
  }
  return { edits, problems };
}

function fenceKind(fence: Fence): 'searchReplace' | 'diff' | 'file' | 'snippet' {
  if (fence.body.some((l) => SEARCH.test(l))) return 'searchReplace';
  const lang = fence.info.split(/\s+/)[0]!.toLowerCase();
  if (['diff', 'patch', 'udiff'].includes(lang)) return 'diff';
  const first = fence.body.findIndex((l) => l.trim() !== '');
  if (first >= 0 && (startsDiff(fence.body, first) || HUNK_START.test(fence.body[first]!))) return 'diff';
  return (infoPath(fence.info) ?? fence.label) !== undefined ? 'file' : 'snippet';
}

function readWholeFile(fence: Fence): { edits: Edit[]; problems: string[] } {
  const path = (infoPath(fence.info) ?? fence.label)!;
  const where = `line ${fence.at}`;
  if (fence.body.every((l) => l.trim() === '')) return { edits: [], problems: [`${where}: the block for ${path} is empty`] };
  const elided = fence.body.findIndex((l) => ELISION.test(l));
  if (elided >= 0) {
    return {
      edits: [],
      problems: [`line ${fence.at + 1 + elided}: the whole file ${path} leaves code out ("${fence.body[elided]!.trim()}"); give all of it, or a diff`],
    };
  }
  return { edits: [{ kind: 'file', path, content: fence.body.join('\n') + '\n' }], problems: [] };
}

/** SEARCH/REPLACE blocks; a path alone on a line names the file of the blocks after it. */
function readSearchReplace(lines: string[], first: number, path: string | undefined): { edits: Edit[]; problems: string[] } {
  const edits: Edit[] = [];
  const problems: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const where = `line ${first + i}`;
    if (DIVIDER.test(line) || REPLACE.test(line)) {
      problems.push(`${where}: "${line.trim()}" outside a SEARCH/REPLACE block`);
    } else if (!SEARCH.test(line)) {
      path = pathLine(line) ?? path;
    } else {
      const divider = nextMarker(lines, i + 1);
      if (divider === undefined || !DIVIDER.test(lines[divider]!)) {
        problems.push(`${where}: the SEARCH block has no ======= line before ${divider === undefined ? 'the end' : `line ${first + divider}`}`);
        break;
      }
      const end = nextMarker(lines, divider + 1);
      if (end === undefined || !REPLACE.test(lines[end]!)) {
        problems.push(`${where}: the SEARCH block has no >>>>>>> REPLACE line before ${end === undefined ? 'the end' : `line ${first + end}`}`);
        break;
      }
      if (path === undefined) problems.push(`${where}: the SEARCH/REPLACE block names no file (put its path alone on the line before)`);
      else edits.push({ kind: 'replace', path, search: joinLines(lines.slice(i + 1, divider)), replace: joinLines(lines.slice(divider + 1, end)) });
      i = end;
    }
  }
  return { edits, problems };
}

function nextMarker(lines: string[], from: number): number | undefined {
  for (let j = from; j < lines.length; j++) if (SEARCH.test(lines[j]!) || DIVIDER.test(lines[j]!) || REPLACE.test(lines[j]!)) return j;
  return undefined;
}

function joinLines(lines: string[]): string {
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

/** The path a fence's info string names: ```js path=src/x.js, ```src/x.js, ```js src/x.js, ```js:src/x.js. */
function infoPath(info: string): string | undefined {
  const attribute = /(?:^|\s)(?:path|file|filename)=(?:"([^"]+)"|'([^']+)'|(\S+))/i.exec(info);
  if (attribute) return attribute[1] ?? attribute[2] ?? attribute[3];
  const [first = '', second] = info.split(/\s+/);
  const afterColon = /^\w+:(.+)$/.exec(first)?.[1];
  return [first, afterColon, second].find((word) => word !== undefined && isPath(word));
}

/** A line that is only a path, maybe decorated: `src/x.js`, **src/x.js**, ### src/x.js, File: src/x.js, src/x.js: */
function pathLine(line: string): string | undefined {
  let text = line.trim().replace(/^#{1,6}\s+/, '').replace(/^(?:file(?:name)?|path)\s*:\s*/i, '').replace(/:$/, '');
  for (let wrapped = true; wrapped; ) {
    const wrapper = ['**', '__', '`', '*', '"', "'"].find((w) => text.length > 2 * w.length && text.startsWith(w) && text.endsWith(w));
    if (wrapper) text = text.slice(wrapper.length, -wrapper.length);
    wrapped = wrapper !== undefined;
  }
  return isPath(text) ? text : undefined;
}

function isPath(text: string): boolean {
  return (
    /^(?:\.{1,2}\/)?[\w.@+~-]+(?:\/[\w.@+~-]+)*$/.test(text) &&
    (text.includes('/') || /\.[A-Za-z0-9]{1,10}$/.test(text)) &&
    !/^[\d.]+$/.test(text)
  );
}

function describe(section: Section): string {
  const name = section.hypothesis || section.heading;
  if (name) return `the candidate "${clip(name, 60)}" (line ${section.at})`;
  return section.heading === undefined && section.hypothesis === undefined ? 'the answer' : `the candidate at line ${section.at}`;
}

function hypothesisOf(section: Section, edits: Edit[]): string {
  const given = section.hypothesis || section.heading;
  return given ? given.slice(0, 500) : `no hypothesis given; changes ${[...new Set(edits.map((e) => e.path))].join(', ')}`;
}

