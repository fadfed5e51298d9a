// flowsim studio: the page's own script (hand-written, no inline script). The editor is
// CodeMirror 6 from static/editor.js (window.FlowEditor, built by `make editor`).
//
// User text reaches the DOM only through textContent (here) or CodeMirror's own text nodes;
// pictures are shown in an <img> from a blob: URL, where an SVG cannot run script.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token") || "";
  const DEBOUNCE_MS = 300;
  const KPIS = [
    ["won_per_week", "Won per week", "num"],
    ["win_rate", "Win rate", "pct"],
    ["cycle_days_mean", "Cycle time (days)", "num"],
    ["wip_mean", "Deals in progress", "num"],
    ["revenue", "Revenue", "money"],
  ];

  const el = {
    editor: $("editor"), diagnostics: $("diagnostics"),
    count: $("problem-count"), image: $("image"), picture: $("picture"), note: $("picture-note"),
    status: $("status"), dirty: $("dirty"), file: $("file"), conflict: $("conflict"),
    conflictText: $("conflict-text"), scenarios: $("scenarios"), run: $("run"), cancel: $("cancel"),
    runStatus: $("run-status"), principal: $("principal"), results: $("results"), colorBy: $("color-by"),
    reps: $("reps"), days: $("days"), fit: $("fit"),
  };

  const state = {
    base: "",              // the text as last loaded from or saved to disk
    version: null,         // its version (sha256 of the file's bytes; null: no file yet)
    view: "flowchart",
    diagnostics: [],
    renderTimer: 0,
    renderSeq: 0,
    renderAbort: null,
    pictureUrl: null,
    renders: 0,
    overlay: null,         // the last simulation's overlay (colours the flowchart)
    runAbort: null,
    disk: null,            // {text, version} on disk while a conflict is shown
    checked: new Map(),    // scenario name -> checked in the what-if list
  };

  // ---- server ------------------------------------------------------------------------------

  async function api(method, path, body, signal) {
    const init = { method, headers: { "X-Flowsim-Token": token }, signal };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (_) { data = { error: response.statusText }; }
    return { status: response.status, data };
  }

  function say(text) { el.status.textContent = text; }

  // ---- the editor --------------------------------------------------------------------------

  // CodeMirror 6 (static/editor.js, built by `make editor`): created once the language data
  // has arrived from the server. Until then `editor` is null and nothing is editable.
  let editor = null;
  let reloading = false; // the change being applied is a reload, not typing

  function text() { return editor ? editor.text() : ""; }

  function isDirty() { return text() !== state.base; }

  function showDirty() { el.dirty.hidden = !isDirty(); }

  // A new text from disk (or the conflict banner) as one undoable change: Ctrl+Z brings back
  // what was in the editor before.
  function setText(next) {
    reloading = true;
    try { editor.replace(next); } finally { reloading = false; }
    showDirty();
    scheduleRender(0);
  }

  function edited() {
    showDirty();
    if (!reloading) scheduleRender();
  }

  function goTo(line, column) { editor.goTo(line, column); }

  function showDiagnostics(list) {
    state.diagnostics = list;
    el.diagnostics.replaceChildren();
    const errors = list.filter((d) => d.severity === "error").length;
    el.count.textContent = list.length ? `(${errors} error${errors === 1 ? "" : "s"}, ${list.length - errors} warning${list.length - errors === 1 ? "" : "s"})` : "";
    if (!list.length) {
      const li = document.createElement("li");
      li.className = "ok";
      li.textContent = "No problems.";
      el.diagnostics.append(li);
    }
    for (const d of list) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = `diag ${d.severity}`;
      const where = document.createElement("span");
      where.className = "where";
      where.textContent = d.span ? `${d.local ? "" : d.span.file + ":"}${d.span.line}:${d.span.column}` : "";
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = `${d.severity}[${d.code}]`;
      const message = document.createElement("span");
      message.className = "message";
      message.textContent = d.message;
      button.append(where, code, message);
      if (d.hint) {
        const hint = document.createElement("span");
        hint.className = "hint";
        hint.textContent = `hint: ${d.hint}`;
        button.append(hint);
      }
      if (d.span && d.local) {
        button.dataset.line = d.span.line;
        button.dataset.column = d.span.column;
        button.addEventListener("click", () => goTo(d.span.line, d.span.column));
      } else {
        button.disabled = true;
      }
      li.append(button);
      el.diagnostics.append(li);
    }
  }

  // ---- the picture -------------------------------------------------------------------------

  // #picture[data-state] is "pending" from a keystroke until the latest render is shown.
  function scheduleRender(delay = DEBOUNCE_MS) {
    clearTimeout(state.renderTimer);
    el.picture.dataset.state = "pending";
    state.renderTimer = setTimeout(renderNow, delay);
  }

  async function renderNow() {
    const seq = ++state.renderSeq;
    if (state.renderAbort) state.renderAbort.abort();
    const abort = new AbortController();
    state.renderAbort = abort;
    const body = { text: text(), view: state.view };
    if (state.overlay && el.colorBy.value && state.view === "flowchart") {
      body.overlay = state.overlay;
      body.color_by = el.colorBy.value;
    }
    let r;
    try {
      r = await api("POST", "/api/render", body, abort.signal);
    } catch (err) {
      if (err.name === "AbortError") return; // a newer render replaced this one
      el.note.textContent = "The server is not answering.";
      if (seq === state.renderSeq) el.picture.dataset.state = "ready";
      return;
    }
    if (seq !== state.renderSeq) return; // a newer render is on its way
    el.picture.dataset.state = "ready";
    if (r.status !== 200) {
      el.note.textContent = r.data.error || `render failed (${r.status})`;
      el.picture.classList.add("stale");
      return;
    }
    showDiagnostics(r.data.diagnostics);
    editor.setSymbols(r.data.symbols);
    // squiggles only for the text they were computed on (a newer render is on its way otherwise)
    if (body.text === text()) editor.setDiagnostics(r.data.diagnostics);
    if (r.data.svg === null) {
      el.note.textContent = state.pictureUrl ? "Showing the last good picture: fix the errors to update it." : "";
      el.picture.classList.add("stale");
      return;
    }
    showScenarios(r.data.scenarios); // only from a text without errors: keep the list meanwhile
    const url = URL.createObjectURL(new Blob([r.data.svg], { type: "image/svg+xml" }));
    const previous = state.pictureUrl;
    state.pictureUrl = url;
    el.image.src = url;
    el.image.alt = `${r.data.view === "journey" ? "Customer journey map" : "Flowchart"} of ${el.file.textContent}`;
    el.image.dataset.view = r.data.view;
    el.image.dataset.renders = String(++state.renders);
    el.picture.classList.remove("stale");
    el.note.textContent = body.color_by ? `coloured by simulated ${el.colorBy.selectedOptions[0].textContent}` : "";
    if (previous) URL.revokeObjectURL(previous);
  }

  function setView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll("[role=tab]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    }
    el.colorBy.disabled = !state.overlay || view !== "flowchart";
    scheduleRender(0);
  }

  // ---- load, save, conflicts ---------------------------------------------------------------

  async function load() {
    const r = await api("GET", "/api/source");
    if (r.status !== 200) {
      say(r.data.error || `cannot load the file (${r.status})`);
      return false;
    }
    el.file.textContent = r.data.file + (r.data.exists ? "" : " (new file)");
    document.title = `${r.data.file} — flowsim studio`;
    state.base = r.data.text;
    state.version = r.data.version;
    editor.load(r.data.text); // the first text: nothing to undo before it
    showDirty();
    scheduleRender(0);
    return true;
  }

  async function save() {
    const saved = text();
    let r;
    try {
      r = await api("PUT", "/api/source", { text: saved, base_version: state.version });
    } catch (_) {
      say("Not saved: the server is not answering.");
      return;
    }
    if (r.status === 200) {
      state.base = saved;
      state.version = r.data.version;
      hideConflict();
      showDirty();
      say("Saved.");
    } else if (r.status === 409) {
      showConflict("Not saved: the file changed on disk since you loaded it.", r.data);
    } else {
      say(`Not saved: ${r.data.error || r.status}`);
    }
  }

  function showConflict(message, disk) {
    state.disk = { text: disk.text, version: disk.version };
    el.conflictText.textContent = message;
    el.conflict.hidden = false;
  }

  function hideConflict() {
    state.disk = null;
    el.conflict.hidden = true;
  }

  // The file on disk is now at `version`: reload a clean editor, keep edits and say so otherwise.
  async function diskChanged(version) {
    if (version === state.version) return;
    const r = await api("GET", "/api/source");
    if (r.status !== 200 || r.data.version === state.version) return;
    if (!isDirty()) {
      state.base = r.data.text;
      state.version = r.data.version;
      hideConflict();
      setText(r.data.text);
      say("Reloaded: the file changed on disk.");
    } else if (text() === r.data.text) {
      state.base = r.data.text;
      state.version = r.data.version;
      showDirty();
    } else {
      showConflict("The file changed on disk, and you have unsaved edits.", r.data);
    }
  }

  function listen() {
    const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
    const handle = (e) => { diskChanged(JSON.parse(e.data).version); };
    events.addEventListener("hello", handle);
    events.addEventListener("change", handle);
  }

  // ---- what-if -----------------------------------------------------------------------------

  function showScenarios(names) {
    const same = names.length === el.scenarios.children.length &&
      names.every((n, i) => el.scenarios.children[i].dataset.name === n);
    if (same) return;
    el.scenarios.replaceChildren();
    for (const name of names) {
      if (!state.checked.has(name)) state.checked.set(name, true);
      const li = document.createElement("li");
      li.dataset.name = name;
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = state.checked.get(name);
      box.addEventListener("change", () => state.checked.set(name, box.checked));
      label.append(box, name);
      li.append(label);
      el.scenarios.append(li);
    }
    if (!names.length) {
      const li = document.createElement("li");
      li.textContent = "No scenarios: add `scenario \"name\" { ... }` to compare what-ifs.";
      el.scenarios.append(li);
    }
  }

  function chosenScenarios() {
    return Array.from(el.scenarios.children)
      .filter((li) => li.dataset.name !== undefined && state.checked.get(li.dataset.name))
      .map((li) => li.dataset.name);
  }

  function fmt(value, kind, signed) {
    if (value === null || value === undefined) return "n/a";
    let text;
    if (kind === "pct") text = (value * 100).toFixed(1);
    else if (kind === "money") text = Math.round(value).toLocaleString("en-US");
    else text = Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
    if (Number(text.replace(/,/g, "")) === 0) text = text.replace("-", ""); // no "-0.00"
    else if (signed && value > 0) text = "+" + text;
    if (kind === "pct") text += signed ? " pp" : "%";
    return text;
  }

  function cell(tag, text, className) {
    const c = document.createElement(tag);
    c.textContent = text;
    if (className) c.className = className;
    return c;
  }

  function showResults(data) {
    el.principal.textContent = data.principal;
    const table = document.createElement("table");
    const head = document.createElement("tr");
    head.append(cell("th", "KPI"), cell("th", "baseline"));
    for (const s of data.scenarios) head.append(cell("th", s.name));
    table.append(head);
    for (const [key, label, kind] of KPIS) {
      const row = document.createElement("tr");
      row.dataset.kpi = key;
      row.append(cell("th", label), cell("td", fmt(data.baseline[key]?.mean, kind, false)));
      for (const s of data.scenarios) {
        const d = s.deltas[key];
        const td = cell("td", d ? fmt(d.mean, kind, true) : "n/a", d && d.significant ? "sig delta" : "delta");
        if (d && d.low !== null) td.append(cell("span", `95% CI ${fmt(d.low, kind, true)} to ${fmt(d.high, kind, true)}`, "ci"));
        row.append(td);
      }
      table.append(row);
    }
    el.results.replaceChildren(table);
    if (data.warnings.length) el.results.append(cell("p", data.warnings.join(" "), "warning"));
  }

  async function runWhatIf() {
    if (state.runAbort) state.runAbort.abort();
    const abort = new AbortController();
    state.runAbort = abort;
    el.run.disabled = true;
    el.cancel.hidden = false;
    el.runStatus.textContent = "Simulating…";
    const body = {
      text: text(),
      scenarios: chosenScenarios(),
      replications: Number(el.reps.value) || 5,
      days: Number(el.days.value) || 90,
    };
    const started = performance.now();
    let r = null;
    try {
      r = await api("POST", "/api/simulate", body, abort.signal);
    } catch (err) {
      el.runStatus.textContent = err.name === "AbortError" ? "Cancelled." : "The server is not answering.";
    } finally {
      if (state.runAbort === abort) {
        state.runAbort = null;
        el.run.disabled = false;
        el.cancel.hidden = true;
      }
    }
    if (!r || state.runAbort) return;
    if (r.status === 200) {
      el.runStatus.textContent = `Done: ${body.replications} replications of ${body.days} days in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
      state.overlay = r.data.overlay;
      el.colorBy.disabled = state.view !== "flowchart";
      el.colorBy.title = "";
      showResults(r.data);
      if (el.colorBy.value) scheduleRender(0);
    } else if (r.status === 409) {
      el.runStatus.textContent = "Cancelled.";
    } else {
      el.runStatus.textContent = r.data.error || `failed (${r.status})`;
    }
  }

  function cancelWhatIf() {
    if (!state.runAbort) return;
    state.runAbort.abort(); // the server sees the request go away and stops the run
    api("POST", "/api/simulate/cancel", {}).catch(() => {});
  }

  // ---- wiring ------------------------------------------------------------------------------

  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "s") {
      e.preventDefault();
      save();
    }
  });
  $("save").addEventListener("click", save);
  $("conflict-load").addEventListener("click", () => {
    if (!state.disk) return;
    state.base = state.disk.text;
    state.version = state.disk.version;
    const disk = state.disk.text;
    hideConflict();
    setText(disk);
    say("Loaded the version on disk.");
  });
  $("conflict-keep").addEventListener("click", () => {
    if (!state.disk) return;
    state.base = state.disk.text; // saving now overwrites the disk version, on purpose
    state.version = state.disk.version;
    hideConflict();
    showDirty();
    say("Kept your version: Save overwrites the file.");
  });
  for (const tab of document.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => setView(tab.dataset.view));
  }
  el.colorBy.addEventListener("change", () => scheduleRender(0));
  el.fit.addEventListener("change", () => el.image.classList.toggle("fit", el.fit.checked));
  el.image.classList.toggle("fit", el.fit.checked);
  el.run.addEventListener("click", runWhatIf);
  el.cancel.addEventListener("click", cancelWhatIf);
  window.addEventListener("beforeunload", (e) => { if (isDirty()) e.preventDefault(); });

  // The language data first (keywords, distributions, hover help), then the editor, the file
  // and the event stream.
  async function start() {
    if (!token) {
      say("This page needs the URL printed by `flowsim studio` (it carries the access token).");
      return;
    }
    const r = await api("GET", "/api/language");
    if (r.status !== 200) {
      say(r.data.error || `cannot start the editor (${r.status})`);
      return;
    }
    const nonce = document.querySelector("meta[name=flowsim-style-nonce]").content;
    editor = window.FlowEditor.create({ parent: el.editor, language: r.data, onChange: edited, nonce });
    if (await load()) listen();
  }

  start();
})();
