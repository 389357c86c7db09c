import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch } from 'diff';
import { NO_EDIT, parseAnswer } from '../../src/core/proposers/parse';
import type { Edit } from '../../src/core/proposers/types';

const F = '```';

/** The only candidate of an answer that must parse without problems. */
function only(answer: string) {
  const { candidates, problems } = parseAnswer(answer);
  assert.deepEqual(problems, []);
  assert.equal(candidates.length, 1);
  return candidates[0]!;
}

function patched(source: string, edit: Edit): string | false {
  assert.equal(edit.kind, 'patch');
  return applyPatch(source, edit.kind === 'patch' ? edit.patch : '');
}

test('a fenced unified diff of several files and hunks gives one patch edit per file', () => {
  const c = only(`Hypothesis: hoist the constant and cache the length
${F}diff
diff --git a/src/a.js b/src/a.js
index 1111111..2222222 100644
--- a/src/a.js
+++ b/src/a.js
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
@@ -7,3 +7,3 @@
 seven
-eight
+EIGHT
 nine
--- a/src/b.js
+++ b/src/b.js
@@ -1 +1 @@
-b
+B
${F}`);
  assert.equal(c.hypothesis, 'hoist the constant and cache the length');
  assert.deepEqual(c.edits.map((e) => e.path), ['src/a.js', 'src/b.js']);
  const a = 'one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n';
  assert.equal(patched(a, c.edits[0]!), 'one\nTWO\nthree\nfour\nfive\nsix\nseven\nEIGHT\nnine\n');
  assert.equal(patched('b\n', c.edits[1]!), 'B\n');
});

test('hunks as models write them apply: wrong counts, lost blank-line spaces, no line numbers', () => {
  const c = only(`${F}diff
--- a/x.js
+++ b/x.js
@@ -40,9 +40,2 @@
 function f() {

-  return 1;
+  return 2;
 }
@@ @@
 function g() {
-  return 3;
+  return 4;
${F}`);
  assert.equal(patched('function f() {\n\n  return 1;\n}\nfunction g() {\n  return 3;\n}\n', c.edits[0]!), 'function f() {\n\n  return 2;\n}\nfunction g() {\n  return 4;\n}\n');
  assert.match(c.hypothesis, /no hypothesis given; changes x\.js/);
});

test('hunks without ---/+++ lines take the file named just before the block', () => {
  const c = only(`Hypothesis: h\n\`src/x.js\`\n${F}diff\n@@ -1 +1 @@\n-x\n+y\n${F}`);
  assert.equal(c.edits[0]!.path, 'src/x.js');
  assert.equal(patched('x\n', c.edits[0]!), 'y\n');
});

test('a bare diff (no fence) ends where the prose begins; a new file comes from /dev/null', () => {
  const c = only(`Hypothesis: add a helper
--- /dev/null
+++ b/src/helper.js
@@ -0,0 +1,2 @@
+exports.twice = (x) => 2 * x;
+exports.half = (x) => x / 2;

This adds a helper module.`);
  assert.deepEqual(c.edits.map((e) => e.path), ['src/helper.js']);
  assert.equal(patched('', c.edits[0]!), 'exports.twice = (x) => 2 * x;\nexports.half = (x) => x / 2;\n');
});

test('SEARCH/REPLACE blocks: several per file, paths bare, decorated, before or inside the fence', () => {
  const c = only(`Hypothesis: use a lookup table
src/a.js
<<<<<<< SEARCH
const A = 1;
=======
const A = 2;
>>>>>>> REPLACE

<<<<<<< SEARCH
const B = 1;
=======
>>>>>>> REPLACE

**src/b.py**
${F}python
<<<<<<< SEARCH
x = 1
=======
x = 2
>>>>>>> REPLACE
${F}

${F}
src/c.js
<<<<<<< SEARCH
c
=======
C
>>>>>>> REPLACE
${F}`);
  assert.deepEqual(c.edits, [
    { kind: 'replace', path: 'src/a.js', search: 'const A = 1;\n', replace: 'const A = 2;\n' },
    { kind: 'replace', path: 'src/a.js', search: 'const B = 1;\n', replace: '' },
    { kind: 'replace', path: 'src/b.py', search: 'x = 1\n', replace: 'x = 2\n' },
    { kind: 'replace', path: 'src/c.js', search: 'c\n', replace: 'C\n' },
  ]);
});

test('whole files in fenced blocks named by path, in each accepted way', () => {
  const c = only(`Hypothesis: rewrite them
${F}js path=src/a.js
a
${F}
${F}src/b.js
b
${F}
\`src/c.ts\`

${F}ts
c
${F}
${F}python:tools/d.py
d
${F}
${F}js filename="src/e.js"
e
${F}`);
  assert.deepEqual(
    c.edits.map((e) => [e.kind, e.path, e.kind === 'file' ? e.content : '']),
    [['file', 'src/a.js', 'a\n'], ['file', 'src/b.js', 'b\n'], ['file', 'src/c.ts', 'c\n'], ['file', 'tools/d.py', 'd\n'], ['file', 'src/e.js', 'e\n']],
  );
});

test('several candidates: Hypothesis lines, bold ones, and Candidate headings with their own Hypothesis line', () => {
  const { candidates, problems } = parseAnswer(`Here are my ideas.

## Candidate 1
**Hypothesis:** a smaller step
${F}js path=a.js
1
${F}

## Candidate 2: inline the call
${F}js path=a.js
2
${F}

Hypothesis: a third one
${F}js path=a.js
3
${F}`);
  assert.deepEqual(problems, []);
  assert.deepEqual(candidates.map((c) => c.hypothesis), ['a smaller step', 'inline the call', 'a third one']);
  assert.deepEqual(candidates.map((c) => (c.edits[0]!.kind === 'file' ? c.edits[0]!.content : '')), ['1\n', '2\n', '3\n']);
});

test('prose with no edit gives no candidate and says so; a code block without a path is pointed at', () => {
  assert.deepEqual(parseAnswer('I think the code is fine as it is.'), { candidates: [], problems: [NO_EDIT] });
  const { problems } = parseAnswer(`You could write it like this:\n${F}js\nconst x = 1;\n${F}`);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^the answer contains no edit \(the code block at line 2 names no file/);
});

test('malformed blocks drop their candidate with a reason naming the line; the good candidates stay', () => {
  const { candidates, problems } = parseAnswer(`Hypothesis: good
a.js
<<<<<<< SEARCH
x
=======
y
>>>>>>> REPLACE

Hypothesis: no divider
a.js
<<<<<<< SEARCH
x
>>>>>>> REPLACE

Hypothesis: no replace marker
a.js
<<<<<<< SEARCH
x
=======
y

Hypothesis: no file named
<<<<<<< SEARCH
x
=======
y
>>>>>>> REPLACE`);
  assert.deepEqual(candidates.map((c) => c.hypothesis), ['good']);
  assert.deepEqual(problems, [
    'the candidate "no divider" (line 9): line 11: the SEARCH block has no ======= line before line 13',
    // The unterminated block runs into the next candidate's: neither is applied.
    'the candidate "no replace marker" (line 15): line 17: the SEARCH block has no >>>>>>> REPLACE line before line 23',
  ]);
  assert.match(parseAnswer('a.js\n<<<<<<< SEARCH\nx\n=======\ny').problems[0]!, /line 2: the SEARCH block has no >>>>>>> REPLACE line before the end$/);
  assert.equal(parseAnswer('Hypothesis: h\n<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE').problems[0], 'the candidate "h" (line 1): line 2: the SEARCH/REPLACE block names no file (put its path alone on the line before)');
});

test('what a diff cannot say here is refused: deleting, renaming, hunks cut off from their headers, junk lines', () => {
  const problem = (answer: string) => {
    const parsed = parseAnswer(answer);
    assert.deepEqual(parsed.candidates, []);
    return parsed.problems.join('\n');
  };
  assert.match(problem(`${F}diff\n--- a/old.js\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n${F}`), /deleting old\.js is not supported/);
  assert.match(problem(`${F}diff\n--- a/old.js\n+++ b/new.js\n@@ -1 +1 @@\n-x\n+y\n${F}`), /renaming old\.js to new\.js is not supported/);
  assert.match(problem(`${F}diff\n@@ -1 +1 @@\n-x\n+y\n${F}`), /a hunk without ---\/\+\+\+ lines naming its file/);
  assert.match(problem(`${F}diff\n--- a/x.js\n+++ b/x.js\n@@ -1 +1 @@\n-x\n+y\nand then this\n${F}`), /line 7: "and then this" is not part of a unified diff/);
  assert.match(problem(`${F}diff\n--- a/x.js\n+++ b/x.js\n${F}`), /a diff without any @@ hunk/);
  // Prose between hunks of a bare diff: the second hunk would be silently lost.
  assert.match(problem('--- a/x.js\n+++ b/x.js\n@@ -1 +1 @@\n-x\n+y\nand also:\n@@ -5 +5 @@\n-p\n+q'), /line 7: a hunk outside any diff/);
});

test('a block that never closes, an empty whole file or one with elided code is not taken', () => {
  assert.match(parseAnswer(`Hypothesis: h\n${F}js path=a.js\nconst a = 1;\n`).problems[0]!, /line 2: the block opened here is never closed \(was the answer cut off\?\)/);
  assert.match(parseAnswer(`${F}js path=a.js\n\n${F}`).problems[0]!, /the block for a\.js is empty/);
  assert.match(parseAnswer(`${F}js path=a.js\nfunction f() {}\n// ... rest of the file unchanged\n${F}`).problems[0]!, /line 3: the whole file a\.js leaves code out/);
  assert.match(parseAnswer(`${F}py path=a.py\n# ...\n${F}`).problems[0]!, /leaves code out/);
  assert.deepEqual(only(`${F}js path=a.js\n// Loading...\n// the existing code path is fast\n${F}`).edits.length, 1);
});

test('thinking blocks, Hypothesis lines inside code and CRLF line ends do not confuse it', () => {
  const c = only(
    `<think>\nmaybe:\n${F}js path=a.js\ndraft\n${F}\n</think>\r\nHypothesis: final\r\n${F}js path=a.js\r\n// Hypothesis: not a new candidate\r\nfinal\r\n${F}\r\n`,
  );
  assert.deepEqual(c, { hypothesis: 'final', edits: [{ kind: 'file', path: 'a.js', content: '// Hypothesis: not a new candidate\nfinal\n' }] });
});

test('paths are passed through as written: validation decides', () => {
  const c = only(`${F}diff\n--- a/../outside.js\n+++ b/../outside.js\n@@ -1 +1 @@\n-x\n+y\n${F}`);
  assert.equal(c.edits[0]!.path, '../outside.js');
});
