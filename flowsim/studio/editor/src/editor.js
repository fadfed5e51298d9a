// The studio's editor: CodeMirror 6 with a .flow mode. Built into ../static/editor.js by
// `make editor` (esbuild, pinned by package-lock.json); studio.js uses window.FlowEditor.
//
// The language data (keywords, distribution names, hover help) comes from the server
// (GET /api/language), the ids to complete from the server's last model (POST /api/render),
// the squiggles from its diagnostics: the editor itself knows nothing of the language.

import { EditorState } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLine, highlightActiveLineGutter,
  drawSelection, highlightSpecialChars, hoverTooltip,
} from "@codemirror/view";
import {
  StreamLanguage, HighlightStyle, syntaxHighlighting, foldGutter, foldKeymap, foldService,
  indentUnit, bracketMatching, indentOnInput,
} from "@codemirror/language";
import { tags } from "@lezer/highlight";
import {
  history, historyKeymap, defaultKeymap, indentMore, indentLess, isolateHistory, undo, redo,
} from "@codemirror/commands";
import { autocompletion, completionKeymap, startCompletion } from "@codemirror/autocomplete";
import { search, searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { setDiagnostics, lintGutter, forEachDiagnostic } from "@codemirror/lint";

const WORD = /^[\p{L}_][\p{L}\p{N}_]*(?:-[\p{L}\p{N}_]+)*/u;
const DAYS = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun)$/;

// ---- the language ---------------------------------------------------------------------------

function flowMode(keywords, distributions) {
  return {
    name: "flow",
    startState: () => ({ depth: 0 }),
    copyState: (s) => ({ depth: s.depth }),
    token(stream, state) {
      if (stream.eatSpace()) return null;
      if (stream.match(/^#.*/)) return "comment";
      if (stream.match(/^"(?:[^"\\]|\\.)*"?/) || stream.match(/^\u201c[^\u201d]*\u201d?/)) return "string";
      if (stream.match(/^-?\d+(?:\.\d+)?[mhdw](?![\p{L}\p{N}_])/u)) return "unit";
      if (stream.match(/^(?:\d{4}-\d{2}-\d{2}|\d{1,2}[:\uff1a]\d{2}|-?\d+(?:\.\d+)?[%\uff05]?)/)) return "number";
      if (stream.match(/^(?:->|\u2192|[*\u00d7])/)) return "operator";
      if (stream.match(/^[{\uff5b]/)) { state.depth++; return "brace"; }
      if (stream.match(/^[}\uff5d]/)) { state.depth = Math.max(0, state.depth - 1); return "brace"; }
      const m = stream.match(WORD);
      if (m) {
        const word = m[0];
        if (keywords.has(word)) return "keyword";
        if (DAYS.test(word)) return "atom";
        if (distributions.has(word.toLowerCase()) && stream.match(/^\s*[([\uff08\u3010]/, false)) return "typeName";
        return "variableName";
      }
      stream.next();
      return null;
    },
    indent(state, textAfter, cx) {
      const closing = /^\s*[}\uff5d]/.test(textAfter) ? 1 : 0;
      return Math.max(0, state.depth - closing) * cx.unit;
    },
    languageData: { commentTokens: { line: "#" }, indentOnInput: /^\s*[}\uff5d]$/ },
  };
}

// Fold a line with the deeper-indented lines after it (blank lines inside are kept).
const foldByIndent = foldService.of((state, from) => {
  const line = state.doc.lineAt(from);
  const indent = (text) => /^\s*/.exec(text)[0].length;
  if (!line.text.trim()) return null;
  const own = indent(line.text);
  let end = null;
  for (let n = line.number + 1; n <= state.doc.lines; n++) {
    const next = state.doc.line(n);
    if (!next.text.trim()) continue;
    if (indent(next.text) <= own) break;
    end = next.to;
  }
  return end === null ? null : { from: line.to, to: end };
});

// Classes, not colours: studio.css colours them (light and dark), and tests can find them.
const highlight = HighlightStyle.define([
  { tag: tags.keyword, class: "tk-kw" },
  { tag: tags.string, class: "tk-str" },
  { tag: tags.number, class: "tk-num" },
  { tag: [tags.unit, tags.atom], class: "tk-dur" },
  { tag: tags.comment, class: "tk-com" },
  { tag: tags.operator, class: "tk-op" },
  { tag: tags.typeName, class: "tk-fn" },
]);

// Is `pos` inside a comment or a string of its line? (No completion or help there.)
function inTextOrComment(state, pos) {
  const line = state.doc.lineAt(pos);
  let quoted = false;
  for (const ch of line.text.slice(0, pos - line.from)) {
    if (ch === '"' || ch === "\u201c" || ch === "\u201d") quoted = ch === "\u201d" ? false : !quoted;
    else if (ch === "#" && !quoted) return true;
  }
  return quoted;
}

// ---- completion and help --------------------------------------------------------------------

// The kind of id that fits after the previous word of the line (boosted in the list).
function wanted(before) {
  const prev = /([\p{L}_][\p{L}\p{N}_-]*|->|\u2192)\s+$/u.exec(before);
  const p = prev ? prev[1] : "";
  if (p === "owner") return ["role"];
  if (p === "in") return ["department"];
  if (p === "->" || p === "\u2192") return ["stage", "outcome"];
  if (p === "stage") return ["stage"];
  if (p === "role") return ["role"];
  if (/^\s*$/.test(before)) return ["stage"]; // a transition starts with a stage id
  return [];
}

function completer(language, symbols) {
  const kinds = ["stage", "outcome", "role", "department", "persona"];
  return (context) => {
    const word = context.matchBefore(/[\p{L}_][\p{L}\p{N}_-]*/u);
    if (!word && !context.explicit) return null;
    if (inTextOrComment(context.state, context.pos)) return null;
    const line = context.state.doc.lineAt(context.pos);
    const before = line.text.slice(0, (word ? word.from : context.pos) - line.from);
    const boost = wanted(before);
    const options = [];
    const seen = new Set();
    for (const kind of kinds) {
      for (const id of symbols.current[kind] || []) {
        if (seen.has(`${kind}:${id}`)) continue;
        seen.add(`${kind}:${id}`);
        options.push({ label: id, type: "variable", detail: kind, boost: boost.includes(kind) ? 20 : 0 });
      }
    }
    for (const kw of language.keywords) options.push({ label: kw, type: "keyword", info: language.help[kw] });
    for (const name of language.distributions) {
      options.push({ label: name, type: "function", info: language.help[name],
        apply: name === "empirical" ? "empirical[" : `${name}(` });
    }
    return { from: word ? word.from : context.pos, options, validFor: /^[\p{L}\p{N}_-]*$/u };
  };
}

function helpTooltip(language) {
  return hoverTooltip((view, pos) => {
    const line = view.state.doc.lineAt(pos);
    const at = pos - line.from;
    let start = at;
    let end = at;
    while (start > 0 && /[\p{L}\p{N}_]/u.test(line.text[start - 1])) start--;
    while (end < line.text.length && /[\p{L}\p{N}_]/u.test(line.text[end])) end++;
    const word = line.text.slice(start, end);
    const key = language.help[word] ? word : word.toLowerCase();
    if (start === end || !language.help[key] || inTextOrComment(view.state, line.from + start)) return null;
    if (!language.keywords.includes(word) && !language.distributions.includes(key)) return null;
    return {
      pos: line.from + start, end: line.from + end, above: true,
      create() {
        const dom = document.createElement("div");
        dom.className = "cm-flow-help";
        const title = document.createElement("strong");
        title.textContent = key;
        const text = document.createElement("div");
        text.textContent = language.help[key];
        dom.append(title, text);
        return { dom };
      },
    };
  });
}

// ---- diagnostics ----------------------------------------------------------------------------

// A diagnostic's 1-based line and code-point column as a document offset.
function offsetOf(doc, lineNo, column) {
  const line = doc.line(Math.min(Math.max(lineNo, 1), doc.lines));
  const units = Array.from(line.text).slice(0, Math.max(0, column - 1)).join("").length;
  return line.from + Math.min(units, line.length);
}

function toLint(doc, list) {
  const out = [];
  for (const d of list) {
    if (!d.local || !d.span) continue;
    const from = offsetOf(doc, d.span.line, d.span.column);
    let to = offsetOf(doc, d.span.end_line || d.span.line, d.span.end_column || d.span.column);
    if (to <= from) to = Math.min(from + 1, doc.lineAt(from).to);
    out.push({
      from, to, severity: d.severity === "error" ? "error" : "warning", source: d.code,
      message: d.hint ? `${d.message} (hint: ${d.hint})` : d.message,
    });
  }
  return out;
}

// ---- the editor -----------------------------------------------------------------------------

// The one change that turns `old` into `text`: the differing middle (so a reload from disk is
// one undoable step, and the caret and scroll position outside the change stay where they were).
function diff(old, text) {
  let start = 0;
  const max = Math.min(old.length, text.length);
  while (start < max && old.charCodeAt(start) === text.charCodeAt(start)) start++;
  let end = 0;
  while (end < max - start && old.charCodeAt(old.length - 1 - end) === text.charCodeAt(text.length - 1 - end)) end++;
  return { from: start, to: old.length - end, insert: text.slice(start, text.length - end) };
}

// A multi-line text inserted as one input (a script's insertText, an input method's commit):
// one transaction, instead of letting the browser build the DOM and CodeMirror read it back
// (seconds for 600 lines, and a newline lost at the end of a long document).
const multiLineInput = EditorView.domEventHandlers({
  beforeinput(event, view) {
    if (event.inputType !== "insertText" || event.isComposing || !event.data || !event.data.includes("\n")) return false;
    event.preventDefault();
    view.dispatch(view.state.replaceSelection(event.data), { userEvent: "input", scrollIntoView: true });
    return true;
  },
});

function create({ parent, language, onChange, nonce }) {
  const symbols = { current: {} };
  const lang = {
    keywords: language.keywords, distributions: language.distributions, help: language.help,
  };
  const mode = StreamLanguage.define(flowMode(new Set(lang.keywords), new Set(lang.distributions)));
  const tabs = keymap.of([
    { key: "Tab", run: (v) => (v.state.selection.ranges.every((r) => r.empty)
      ? (v.dispatch(v.state.replaceSelection("  ")), true) : indentMore(v)) },
    { key: "Shift-Tab", run: indentLess },
  ]);
  const extensions = [
    lineNumbers(), highlightActiveLineGutter(), highlightSpecialChars(), history(), foldGutter(),
      drawSelection(), indentOnInput(), bracketMatching(), highlightActiveLine(),
      highlightSelectionMatches(), search({ top: true }), lintGutter(),
      mode, foldByIndent, indentUnit.of("  "), syntaxHighlighting(highlight),
      autocompletion({ override: [completer(lang, symbols)], activateOnTyping: true }),
      helpTooltip(lang), multiLineInput,
      tabs,
      keymap.of([...completionKeymap, ...searchKeymap, ...historyKeymap, ...foldKeymap, ...defaultKeymap]),
      EditorView.contentAttributes.of({ "aria-label": ".flow source", spellcheck: "false", autocapitalize: "off", autocorrect: "off" }),
      EditorView.cspNonce.of(nonce || ""),
    EditorView.updateListener.of((u) => { if (u.docChanged) onChange(u); }),
  ];
  const view = new EditorView({ state: EditorState.create({ doc: "", extensions }), parent });

  return {
    view,
    text: () => view.state.doc.toString(),
    // The first text of the page: no undo step before it.
    load(text) {
      view.setState(EditorState.create({ doc: text, extensions }));
    },
    // Replace the text as one undoable change (a reload from disk, a conflict resolved).
    replace(text, userEvent = "reload") {
      const old = view.state.doc.toString();
      if (old === text) return;
      view.dispatch({
        changes: diff(old, text), userEvent, annotations: isolateHistory.of("full"),
        scrollIntoView: false,
      });
    },
    setDiagnostics(list) {
      view.dispatch(setDiagnostics(view.state, toLint(view.state.doc, list)));
    },
    lintCount() {
      let n = 0;
      forEachDiagnostic(view.state, () => { n++; });
      return n;
    },
    setSymbols(next) { if (next) symbols.current = next; },
    goTo(line, column) {
      const pos = offsetOf(view.state.doc, line, column);
      view.dispatch({ selection: { anchor: pos }, scrollIntoView: true });
      view.focus();
    },
    focus: () => view.focus(),
    undo: () => undo(view),
    redo: () => redo(view),
    complete: () => startCompletion(view),
  };
}

window.FlowEditor = { create, viewOf: (dom) => EditorView.findFromDOM(dom) };
