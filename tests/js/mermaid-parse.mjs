// Parse Mermaid diagram texts with Mermaid's own parser and report what it understood.
//
// stdin:  JSON list of {"name": str, "text": str}
// stdout: JSON list of {"name", "ok", "error", "type", "config", "structure"}, same order.
//
// "ok" is the verdict of mermaid.parse(text) (with Mermaid's default, strict security level).
// "structure" is what the parser built, so tests can check that user text stayed text:
//   flowchart: nodes as the renderer gets them (id, label, shape, parent, group, link),
//              vertices (id, text, type, classes, link, callback), edges (start, end, type,
//              stroke, text), subgraphs (id, title, nodes), classDefs, direction
//   journey:   title, sections, tasks (section, task, score, people)
// "config" is the configuration the text asked for (front matter / %%{init}%% directives):
// an export must never ask for any.
//
// Mermaid sanitises labels with DOMPurify, which needs a DOM: jsdom provides window/document
// before mermaid is imported (without them, DOMPurify.addHook is not a function).
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;

// Mermaid logs through console.*: keep stdout for the JSON answer.
for (const level of ['log', 'info', 'warn', 'debug', 'trace']) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict', logLevel: 'fatal' });

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function flowchartStructure(db) {
  const vertices = [...db.getVertices().values()].map((v) => ({
    id: v.id,
    text: v.text ?? null,
    type: v.type ?? null,
    classes: [...(v.classes ?? [])],
    link: v.link ?? null,
    callback: Boolean(v.haveCallback),
  }));
  const edges = db.getEdges().map((e) => ({
    start: e.start,
    end: e.end,
    type: e.type ?? null,
    stroke: e.stroke ?? null,
    text: e.text ?? '',
  }));
  const subgraphs = db.getSubGraphs().map((s) => ({ id: s.id, title: s.title, nodes: [...s.nodes] }));
  // What the renderer will draw: nodes (subgraphs are group nodes) with their parents.
  const data = db.getData();
  const nodes = data.nodes.map((n) => ({
    id: n.id,
    label: n.label ?? null,
    shape: n.shape ?? null,
    parent: n.parentId ?? null,
    group: Boolean(n.isGroup),
    link: n.link ?? null,
  }));
  return {
    direction: db.getDirection() ?? null,
    nodes,
    vertices,
    edges,
    subgraphs,
    classDefs: [...db.getClasses().keys()],
  };
}

function journeyStructure(db) {
  return {
    title: db.getDiagramTitle(),
    sections: [...db.getSections()],
    tasks: db.getTasks().map((t) => ({
      section: t.section,
      task: t.task,
      score: t.score,
      people: [...(t.people ?? [])],
    })),
  };
}

const items = JSON.parse(await readStdin());
const results = [];
for (const { name, text } of items) {
  const result = { name, ok: false, error: null, type: null, config: null, structure: null };
  try {
    const parsed = await mermaid.parse(text);
    result.ok = true;
    result.type = parsed.diagramType;
    result.config = parsed.config ?? {};
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    if (diagram.type.startsWith('flowchart')) result.structure = flowchartStructure(diagram.db);
    else if (diagram.type === 'journey') result.structure = journeyStructure(diagram.db);
  } catch (err) {
    result.ok = false;
    result.error = String(err?.message ?? err);
  }
  results.push(result);
}
process.stdout.write(JSON.stringify(results) + '\n');
