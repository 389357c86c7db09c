/**
 * How a model must answer, in one place: the context memory includes it in what `rsi context`
 * shows, the model proposers send it, and parse.ts reads exactly these forms.
 */
export const ANSWER_FORMAT = `## How to answer

Give one or more candidates. Each candidate is tested on its own against the current code, so no
candidate may depend on another. Start each candidate with one line:

Hypothesis: <what you change and why it should improve the metric, in one sentence>

then give its edits in any of these three forms, with paths relative to the workspace root:

1. A unified diff in a diff block:

\`\`\`diff
--- a/src/example.js
+++ b/src/example.js
@@ -10,3 +10,3 @@
 unchanged line
-old line
+new line
 unchanged line
\`\`\`

2. SEARCH/REPLACE blocks: the file's path alone on a line, then

<<<<<<< SEARCH
lines copied exactly from the current file (they must occur exactly once)
=======
the lines that replace them
>>>>>>> REPLACE

3. A whole file: a fenced block whose first line names the path, e.g. \`\`\`js path=src/example.js,
holding the complete new content of the file; never elide parts with comments like "// ...".

Change only the target files. Text outside the Hypothesis lines and the edits is ignored.`;

/** What a model proposer is, for the system message of a chat model. */
export const ROLE =
  'You improve a program for a measured metric. You propose small, concrete code changes that a ' +
  'harness tests in a sandbox and keeps only when the metric improves beyond noise.';

/** The closing request: how many candidates this answer should hold. */
export function candidateRequest(count: number): string {
  return count === 1
    ? 'Propose 1 candidate.'
    : `Propose ${count} candidates, the most promising first, each different from the others.`;
}
