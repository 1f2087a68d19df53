// Checks certwire's sequence diagrams (src/report/diagram.rs). tests/diagrams.rs writes
// them with a manifest.json giving, for each, what certwire meant to draw; run as
// `node check.mjs <manifest.json>` from the directory where this package is installed.
//
// Mermaid: each block is parsed by Mermaid itself (its sequence-diagram grammar and
// preprocessing, as GitHub and GitLab run it), and must read back exactly the two
// participants and every message and note, in order, with the expected text once Mermaid's
// entity codes are shown: nothing cut off by a comment or a `;`, no statement injected, no
// directive (`%%{init}%%`) taken from the text.
// SVG: each must parse as XML, hold only the elements and attributes the renderer writes
// (no script, foreignObject, style, event handler or external reference), be at most
// 720 px wide, and show every message's label as one text element.
import fs from 'node:fs';
import path from 'node:path';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><html><body></body></html>', { pretendToBeVisual: true });
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });

const manifestPath = process.argv[2];
if (!manifestPath) {
  console.error('usage: node check.mjs <manifest.json>');
  process.exit(2);
}
const dir = path.dirname(manifestPath);
const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8'));

// What the reader sees: Mermaid keeps entity codes (#35;) as placeholders through parsing
// and the renderer shows them as the character.
const textarea = dom.window.document.createElement('textarea');
// Line breaks (<br/>, which certwire writes between a note's lines) are read as newlines.
function shown(text) {
  const lines = String(text ?? '').split(/<br\s*\/?>/i).map((line) => {
    textarea.innerHTML = line
      .replace(/\uFB02\u00B0\u00B0/g, '&#')
      .replace(/\uFB02\u00B0/g, '&')
      .replace(/\u00B6\u00DF/g, ';');
    return textarea.value.trim();
  });
  return lines.join('\n');
}

function normalized(text) {
  return text.split('\n').map((l) => l.trim()).join('\n');
}

const LINE = { SOLID: 0, DOTTED: 1, NOTE: 2, SOLID_CROSS: 3, DOTTED_CROSS: 4, RECT_START: 22, RECT_END: 23 };
const ELEMENTS = new Set(['svg', 'title', 'rect', 'line', 'text', 'polygon', 'path']);
const ATTRIBUTES = new Set([
  'xmlns', 'width', 'height', 'viewBox', 'role', 'font-family', 'font-size', 'font-style',
  'font-weight', 'x', 'y', 'rx', 'x1', 'y1', 'x2', 'y2', 'points', 'd', 'fill', 'stroke',
  'stroke-width', 'stroke-dasharray', 'text-anchor', 'paint-order',
]);

async function checkMermaid(entry) {
  const problems = [];
  const text = fs.readFileSync(path.join(dir, entry.mermaid), 'utf8');
  const lines = text.split('\n');
  if (lines[0] !== '```mermaid' || lines.at(-1) !== '' || lines.at(-2) !== '```') {
    return ['not a fenced ```mermaid block ending in a newline'];
  }
  const code = lines.slice(1, -2).join('\n');
  let parsed;
  try {
    parsed = await mermaid.parse(code);
  } catch (e) {
    return [`Mermaid does not parse it: ${e.message}`];
  }
  if (parsed.diagramType !== 'sequence') problems.push(`diagram type ${parsed.diagramType}`);
  if (Object.keys(parsed.config ?? {}).length) {
    problems.push(`a directive was read from the text: ${JSON.stringify(parsed.config)}`);
  }
  const db = (await mermaid.mermaidAPI.getDiagramFromText(code)).db;
  const actors = db.getActorKeys();
  if (actors.join(',') !== 'C,S') problems.push(`participants ${JSON.stringify(actors)}`);
  ['C', 'S'].forEach((id, i) => {
    const got = shown(db.getActor(id)?.description);
    if (got !== entry.expect.actors[i]) {
      problems.push(`participant ${id}: ${JSON.stringify(got)} != ${JSON.stringify(entry.expect.actors[i])}`);
    }
  });
  const steps = [];
  let depth = 0;
  for (const m of db.getMessages()) {
    switch (m.type) {
      case LINE.RECT_START: depth++; break;
      case LINE.RECT_END: depth--; break;
      case LINE.NOTE:
        if (m.from !== 'C' || m.to !== 'S') problems.push(`note over ${m.from},${m.to}`);
        steps.push({ kind: 'note', text: shown(m.message) });
        break;
      case LINE.SOLID: case LINE.DOTTED: case LINE.SOLID_CROSS: case LINE.DOTTED_CROSS:
        steps.push({ kind: 'message', from: m.from, to: m.to, text: shown(m.message) });
        break;
      default:
        problems.push(`unexpected statement type ${m.type}: ${JSON.stringify(m.message)}`);
    }
    if (depth < 0 || depth > 1) problems.push('rect blocks badly nested');
  }
  if (depth !== 0) problems.push('rect block not closed');
  const want = entry.expect.steps;
  if (steps.length !== want.length) {
    problems.push(`${steps.length} steps read back, ${want.length} drawn`);
  }
  for (let i = 0; i < Math.min(steps.length, want.length); i++) {
    const a = steps[i];
    const b = want[i];
    if (a.kind !== b.kind || a.text !== normalized(b.text) || (b.kind === 'message' && (a.from !== b.from || a.to !== b.to))) {
      problems.push(`step ${i}: read back ${JSON.stringify(a)}, drawn ${JSON.stringify(b)}`);
    }
  }
  return problems;
}

function checkSvg(entry) {
  const problems = [];
  const text = fs.readFileSync(path.join(dir, entry.svg), 'utf8');
  const doc = new dom.window.DOMParser().parseFromString(text, 'image/svg+xml');
  const err = doc.getElementsByTagName('parsererror')[0];
  if (err) return [`not well-formed XML: ${err.textContent.slice(0, 200)}`];
  const root = doc.documentElement;
  if (root.localName !== 'svg' || root.namespaceURI !== 'http://www.w3.org/2000/svg') {
    problems.push(`root element ${root.localName} in ${root.namespaceURI}`);
  }
  const width = Number(root.getAttribute('width'));
  if (!(width > 0 && width <= 720)) problems.push(`width ${root.getAttribute('width')}`);
  const texts = new Set();
  for (const el of [root, ...root.getElementsByTagName('*')]) {
    if (!ELEMENTS.has(el.localName) || el.namespaceURI !== 'http://www.w3.org/2000/svg') {
      problems.push(`element <${el.localName}>`);
    }
    for (const a of el.attributes) {
      if (!ATTRIBUTES.has(a.name)) problems.push(`attribute ${a.name} on <${el.localName}>`);
      if (/url\(|javascript:/i.test(a.value)) problems.push(`attribute value ${a.value}`);
    }
    if (el.localName === 'text') texts.add(el.textContent);
  }
  for (const s of entry.expect.steps) {
    if (s.kind === 'message' && !texts.has(s.text)) {
      problems.push(`message ${JSON.stringify(s.text)} is not one text element`);
    }
  }
  return problems;
}

let passed = 0;
let failed = 0;
for (const entry of manifest) {
  const problems = [...(await checkMermaid(entry)).map((p) => `mermaid: ${p}`), ...checkSvg(entry).map((p) => `svg: ${p}`)];
  if (problems.length) {
    failed++;
    console.log(`FAIL ${entry.name} (${entry.mermaid}, ${entry.svg})`);
    for (const p of problems.slice(0, 10)) console.log(`  ${p}`);
  } else {
    passed++;
  }
}
const version = JSON.parse(fs.readFileSync(new URL('./node_modules/mermaid/package.json', import.meta.url), 'utf8')).version;
console.log(`mermaid ${version}: ${passed} of ${manifest.length} diagrams passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
