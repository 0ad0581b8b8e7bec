// Parses Mermaid files with Mermaid's own parser and exits non-zero when
// any fails. Usage: node check.mjs FILE...
//
// Mermaid needs a DOM even to parse (it sets up DOMPurify on import), so a
// jsdom window stands in for the browser. Before the files, a known-bad
// diagram must fail to parse: that proves the parser is really running and
// would catch an error, rather than accepting everything.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

async function parse(text) {
  try {
    const r = await mermaid.parse(text);
    if (!r || r.diagramType !== 'stateDiagram') {
      return `parsed as ${r && r.diagramType}, want stateDiagram`;
    }
    return null;
  } catch (e) {
    return String(e.message || e).split('\n').slice(0, 4).join('\n');
  }
}

if (!(await parse('stateDiagram-v2\n    A --> --> B\n'))) {
  console.error('check.mjs: the parser accepted a broken diagram; is mermaid installed correctly?');
  process.exit(2);
}
let failed = 0;
for (const file of process.argv.slice(2)) {
  const err = await parse(readFileSync(file, 'utf8'));
  if (err) {
    failed++;
    console.error(`${file}: ${err}`);
  }
}
console.log(`${process.argv.length - 2 - failed} parsed, ${failed} failed`);
process.exit(failed ? 1 : 0);
