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
    reps: $("reps"), days: $("days"), canvas: $("canvas"), highlight: $("highlight"),
    minimap: $("minimap"), minimapImage: $("minimap-image"), minimapView: $("minimap-view"),
    zoomLevel: $("zoom-level"), conflictDiff: $("conflict-diff"), whatif: $("whatif"),
    runStale: $("run-stale"), exportMd: $("export-md"), exportCsv: $("export-csv"),
    direction: $("direction"), lanes: $("lanes"), detail: $("detail"), theme: $("theme"),
    exportFormat: $("export-format"),
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
    run: null,             // the last what-if: {text it ran on, the answer}
    dropped: [],           // ids of the run's figures that the model no longer has
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
    updateStale();
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
    const body = pictureBody();
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
    if (r.data.symbols) state.symbols = r.data.symbols;
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
    el.minimapImage.src = url;
    el.picture.classList.remove("stale");
    surface.hitmap = r.data.hitmap;
    showHighlight(null); // the boxes moved: the outline would point at the old place
    state.dropped = r.data.overlay_dropped || [];
    if (previous) URL.revokeObjectURL(previous);
    showColourNote(Boolean(body.color_by));
  }

  // The request for the picture as the page shows it: the view, the toolbar's options and,
  // once a what-if has run, its figures to colour the flowchart by.
  function pictureBody() {
    const body = {
      text: text(), view: state.view, direction: el.direction.value, lanes: el.lanes.value,
      detail: el.detail.value, theme: el.theme.value,
    };
    if (state.overlay && el.colorBy.value && state.view === "flowchart") {
      body.overlay = state.overlay;
      body.color_by = el.colorBy.value;
    }
    return body;
  }

  // What the colours mean, and whether they still describe the model in the editor.
  function showColourNote(coloured) {
    el.picture.classList.toggle("stale-colours", coloured && runIsStale());
    if (!coloured) { el.note.textContent = ""; return; }
    let note = `coloured by simulated ${el.colorBy.selectedOptions[0].textContent}`;
    if (runIsStale()) note += " — model changed since this run — run again";
    if (state.dropped.length) note += ` (no figures for ${state.dropped.join(", ")}: not in the model now)`;
    el.note.textContent = note;
  }

  // ---- honest state: results of an older model are marked, not silently shown as current ----

  function runIsStale() { return state.run !== null && state.run.text !== text(); }

  function updateStale() {
    const stale = runIsStale();
    el.runStale.hidden = !stale;
    el.whatif.classList.toggle("stale", stale);
    el.picture.classList.toggle("stale-colours", stale && Boolean(el.colorBy.value) && state.view === "flowchart");
  }

  function setView(view) {
    state.view = view;
    for (const tab of document.querySelectorAll("[role=tab]")) {
      tab.setAttribute("aria-selected", String(tab.dataset.view === view));
    }
    el.colorBy.disabled = !state.overlay || view !== "flowchart";
    for (const select of [el.direction, el.lanes, el.detail]) select.disabled = view !== "flowchart";
    scheduleRender(0);
  }

  // ---- the picture as a working surface: zoom, pan, minimap, click to the text ----------------
  //
  // #canvas holds the <img> at its natural size, moved and scaled by one CSS transform. The
  // server's hit map gives each stage, outcome, transition and lane a box (and a transition its
  // line) in the SVG's viewBox units, with the span of its text: a click is mapped into those
  // units and looked up, so the picture stays an image that runs nothing.

  const ZOOMS = [0.1, 0.25, 0.33, 0.5, 0.67, 0.75, 0.9, 1, 1.25, 1.5, 2, 3, 4];
  const MINIMAP = { width: 200, height: 130 };
  const surface = { z: 1, tx: 0, ty: 0, fit: true, hitmap: null, drag: null };

  function natural() {
    return { w: el.image.naturalWidth || 1, h: el.image.naturalHeight || 1 };
  }

  // Keep the picture in the panel: a picture smaller than the panel stays wholly inside it, a
  // larger one cannot be dragged past its edges (by more than a margin).
  function clampView() {
    const { w, h } = natural();
    const box = el.picture.getBoundingClientRect();
    const margin = 12;
    const clamp = (t, size, room) => (size <= room
      ? Math.min(Math.max(t, 0), room - size)
      : Math.min(Math.max(t, room - size - margin), margin));
    surface.tx = clamp(surface.tx, w * surface.z, box.width);
    surface.ty = clamp(surface.ty, h * surface.z, box.height);
  }

  function applyView() {
    clampView();
    el.canvas.style.transform = `translate(${surface.tx}px, ${surface.ty}px) scale(${surface.z})`;
    el.zoomLevel.textContent = `${Math.round(surface.z * 100)}%`;
    el.picture.dataset.zoom = surface.z.toFixed(4);
    updateMinimap();
  }

  function fitView() {
    const { w, h } = natural();
    const box = el.picture.getBoundingClientRect();
    const pad = 12;
    surface.z = Math.max(Math.min((box.width - 2 * pad) / w, (box.height - 2 * pad) / h, 1), 0.02);
    surface.tx = Math.max((box.width - w * surface.z) / 2, pad);
    surface.ty = pad;
    surface.fit = true;
    applyView();
  }

  // Zoom to `z`, keeping the panel point (cx, cy) (default: the panel's centre) in place.
  function zoomTo(z, cx, cy) {
    const box = el.picture.getBoundingClientRect();
    if (cx === undefined) { cx = box.width / 2; cy = box.height / 2; }
    const next = Math.min(Math.max(z, 0.02), 8);
    surface.tx = cx - (cx - surface.tx) * next / surface.z;
    surface.ty = cy - (cy - surface.ty) * next / surface.z;
    surface.z = next;
    surface.fit = false;
    applyView();
  }

  function zoomStep(direction) {
    const next = direction > 0
      ? ZOOMS.find((z) => z > surface.z + 1e-6)
      : [...ZOOMS].reverse().find((z) => z < surface.z - 1e-6);
    if (next !== undefined) zoomTo(next);
  }

  function pictureShown() {
    if (surface.fit) fitView(); else applyView();
    el.picture.dataset.shown = el.image.dataset.renders || ""; // this picture is on screen now
  }

  // The minimap: the whole picture small, the panel's view as a frame; shown while the
  // picture at this zoom does not fit the panel.
  function updateMinimap() {
    const { w, h } = natural();
    const box = el.picture.getBoundingClientRect();
    const big = w * surface.z > box.width + 1 || h * surface.z > box.height + 1;
    el.minimap.hidden = !big || !state.pictureUrl;
    if (el.minimap.hidden) return;
    const m = Math.min(MINIMAP.width / w, MINIMAP.height / h);
    el.minimapImage.style.width = `${w * m}px`;
    el.minimapImage.style.height = `${h * m}px`;
    const x0 = Math.max(-surface.tx / surface.z, 0), y0 = Math.max(-surface.ty / surface.z, 0);
    const x1 = Math.min((box.width - surface.tx) / surface.z, w);
    const y1 = Math.min((box.height - surface.ty) / surface.z, h);
    Object.assign(el.minimapView.style, {
      left: `${x0 * m}px`, top: `${y0 * m}px`,
      width: `${Math.max(x1 - x0, 0) * m}px`, height: `${Math.max(y1 - y0, 0) * m}px`,
    });
  }

  // Centre the panel on the picture point under a click on the minimap.
  function minimapJump(e) {
    const { w, h } = natural();
    const m = Math.min(MINIMAP.width / w, MINIMAP.height / h);
    const r = el.minimapImage.getBoundingClientRect();
    const box = el.picture.getBoundingClientRect();
    surface.tx = box.width / 2 - ((e.clientX - r.left) / m) * surface.z;
    surface.ty = box.height / 2 - ((e.clientY - r.top) / m) * surface.z;
    surface.fit = false;
    applyView();
  }

  // A point of the panel (client coordinates) in the SVG's viewBox units.
  function toPicture(clientX, clientY) {
    const r = el.picture.getBoundingClientRect();
    const [vx, vy, vw, vh] = surface.hitmap.view_box;
    const { w, h } = natural();
    const px = (clientX - r.left - surface.tx) / surface.z;
    const py = (clientY - r.top - surface.ty) / surface.z;
    return { x: vx + px * vw / w, y: vy + py * vh / h, unit: vw / w / surface.z };
  }

  function segmentDistance(p, a, b) {
    const dx = b[0] - a[0], dy = b[1] - a[1];
    const t = dx || dy ? Math.max(0, Math.min(1, ((p.x - a[0]) * dx + (p.y - a[1]) * dy) / (dx * dx + dy * dy))) : 0;
    return Math.hypot(p.x - a[0] - t * dx, p.y - a[1] - t * dy);
  }

  // What is under the point: a stage or outcome, else the nearest transition line within
  // 6 screen pixels (or its label), else a lane.
  function hitAt(p) {
    const items = surface.hitmap ? surface.hitmap.items : [];
    const inside = (i) => p.x >= i.x && p.x <= i.x + i.w && p.y >= i.y && p.y <= i.y + i.h;
    const node = items.find((i) => i.kind === "touchpoint" && inside(i)) ||
      items.find((i) => (i.kind === "stage" || i.kind === "outcome") && inside(i));
    if (node) return node;
    let best = null, bestDistance = 6 * p.unit;
    for (const item of items.filter((i) => i.kind === "edge")) {
      for (let k = 1; k < item.points.length; k++) {
        const d = segmentDistance(p, item.points[k - 1], item.points[k]);
        if (d <= bestDistance) { best = item; bestDistance = d; }
      }
    }
    return best || items.find((i) => i.kind === "lane" && inside(i)) || null;
  }

  function showHighlight(item) {
    el.highlight.hidden = !item;
    if (!item) return;
    const [vx, vy, vw, vh] = surface.hitmap.view_box;
    const { w, h } = natural();
    const sx = w / vw, sy = h / vh;
    Object.assign(el.highlight.style, {
      left: `${(item.x - vx) * sx - 3}px`, top: `${(item.y - vy) * sy - 3}px`,
      width: `${item.w * sx + 6}px`, height: `${item.h * sy + 6}px`,
    });
  }

  function pictureClick(e) {
    if (!surface.hitmap) return;
    const item = hitAt(toPicture(e.clientX, e.clientY));
    showHighlight(item);
    el.picture.dataset.selected = item ? `${item.kind}:${item.id}` : "";
    showEditPanel(item);
    if (!item) return;
    if (item.span) {
      goTo(item.span.line, item.span.column);
      say(`${item.kind} ${item.id}: line ${item.span.line}`);
    } else {
      say(`${item.kind} ${item.id} is written in an included file.`);
    }
  }

  function startDrag(e) {
    if (e.button !== 0 || el.minimap.contains(e.target)) return;
    surface.drag = { x: e.clientX, y: e.clientY, tx: surface.tx, ty: surface.ty, moved: false };
    el.picture.setPointerCapture(e.pointerId);
  }

  function moveDrag(e) {
    const d = surface.drag;
    if (!d) return;
    const dx = e.clientX - d.x, dy = e.clientY - d.y;
    if (!d.moved && Math.hypot(dx, dy) < 4) return;
    d.moved = true;
    el.picture.classList.add("dragging");
    surface.tx = d.tx + dx;
    surface.ty = d.ty + dy;
    surface.fit = false;
    applyView();
  }

  function endDrag(e) {
    const d = surface.drag;
    surface.drag = null;
    el.picture.classList.remove("dragging");
    if (d && !d.moved) pictureClick(e);
  }

  function wheelZoom(e) {
    e.preventDefault();
    const r = el.picture.getBoundingClientRect();
    zoomTo(surface.z * Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }

  // ---- visual edits: the server writes each into the text (flowsim.edit), the editor takes it
  // as one undoable change; the picture follows from the new text like after typing.

  const editPanel = {
    panel: $("edit-panel"), what: $("edit-what"), stage: $("edit-stage"), edge: $("edit-edge"),
    role: $("edit-role"), status: $("edit-status"), owner: $("edit-owner"), target: $("edit-target"),
    item: null,
  };

  function options(select, values) {
    select.replaceChildren(...values.map((v) => {
      const option = document.createElement("option");
      option.value = option.textContent = v;
      return option;
    }));
  }

  function showEditPanel(item) {
    const roleLane = item && item.kind === "lane" && el.lanes.value === "role";
    const editable = item && item.span && (item.kind === "stage" || item.kind === "edge" || roleLane);
    editPanel.panel.hidden = !editable;
    editPanel.item = editable ? item : null;
    if (!editable) return;
    const symbols = state.symbols || { stage: [], outcome: [], role: [] };
    editPanel.what.textContent = `${item.kind === "lane" ? "role" : item.kind} ${item.id}`;
    editPanel.stage.hidden = item.kind !== "stage";
    editPanel.edge.hidden = item.kind !== "edge";
    editPanel.role.hidden = !roleLane;
    editPanel.status.textContent = "";
    options(editPanel.owner, symbols.role);
    options(editPanel.target, [...symbols.stage, ...symbols.outcome].filter((id) => id !== item.id));
  }

  async function visualEdit(edit) {
    const r = await api("POST", "/api/edit", { text: text(), edit }).catch(() => null);
    if (!r) { editPanel.status.textContent = "The server is not answering."; return; }
    if (r.status !== 200) { editPanel.status.textContent = r.data.error || `failed (${r.status})`; return; }
    setText(r.data.text);
    editPanel.status.textContent = "Done: the text is changed (Ctrl+Z undoes it).";
  }

  function percent(input) {
    return input.value === "" ? null : Number(input.value) / 100;
  }

  function wireEdits() {
    const ends = () => editPanel.item.id.split(" -> ");
    $("add-stage").addEventListener("click", () => visualEdit({
      kind: "add_stage", after: editPanel.item.id, id: $("new-stage-id").value.trim(), label: null }));
    $("set-owner").addEventListener("click", () => visualEdit({
      kind: "set_owner", stage: editPanel.item.id, role: editPanel.owner.value }));
    $("add-arrow").addEventListener("click", () => visualEdit({
      kind: "add_transition", source: editPanel.item.id, target: editPanel.target.value,
      probability: percent($("new-arrow-prob")) }));
    $("set-prob").addEventListener("click", () => visualEdit({
      kind: "set_probability", source: ends()[0], target: ends()[1], probability: percent($("edit-prob")) }));
    $("remove-arrow").addEventListener("click", () => visualEdit({
      kind: "remove_transition", source: ends()[0], target: ends()[1] }));
    $("set-headcount").addEventListener("click", () => visualEdit({
      kind: "set_headcount", role: editPanel.item.id, headcount: Number($("edit-headcount").value) }));
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
    showDiff(disk.diff);
  }

  // The unified diff from the disk to the editor (the server's, from a 409 or /api/diff),
  // one DOM text node per line: nothing in it is markup.
  async function showDiff(diff) {
    if (diff === undefined) {
      const r = await api("POST", "/api/diff", { text: text() }).catch(() => null);
      diff = r && r.status === 200 ? r.data.diff : "";
    }
    el.conflictDiff.replaceChildren();
    for (const line of diff.split("\n").slice(0, -1)) {
      const span = document.createElement("span");
      if (line.startsWith("@@")) span.className = "hunk";
      else if (line.startsWith("+") && !line.startsWith("+++")) span.className = "add";
      else if (line.startsWith("-") && !line.startsWith("---")) span.className = "del";
      span.textContent = line + "\n";
      el.conflictDiff.append(span);
    }
    el.conflictDiff.hidden = !diff;
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
      state.run = { text: body.text, data: r.data };
      el.exportMd.disabled = el.exportCsv.disabled = false;
      updateStale();
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

  // ---- exports: the server draws (the same renderer as `flowsim render`), the page saves ----

  async function download(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: { "X-Flowsim-Token": token, "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (_) {
      say("Not exported: the server is not answering.");
      return;
    }
    if (!response.ok) {
      let message = response.statusText;
      try { message = (await response.json()).error; } catch (_) { /* not JSON */ }
      say(`Not exported: ${message}`);
      return;
    }
    const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
    const name = match ? match[1] : "flowsim-export";
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    say(`Exported ${name}.`);
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
  for (const select of [el.direction, el.lanes, el.detail, el.theme]) {
    select.addEventListener("change", () => scheduleRender(0));
  }
  $("export").addEventListener("click", () =>
    download("/api/export", { ...pictureBody(), format: el.exportFormat.value }));
  el.exportMd.addEventListener("click", () =>
    download("/api/export/results", { results: state.run.data, format: "markdown" }));
  el.exportCsv.addEventListener("click", () =>
    download("/api/export/results", { results: state.run.data, format: "csv" }));
  $("zoom-in").addEventListener("click", () => zoomStep(1));
  $("zoom-out").addEventListener("click", () => zoomStep(-1));
  $("zoom-fit").addEventListener("click", fitView);
  $("zoom-100").addEventListener("click", () => zoomTo(1));
  el.picture.addEventListener("wheel", wheelZoom, { passive: false });
  el.picture.addEventListener("pointerdown", startDrag);
  el.picture.addEventListener("pointermove", moveDrag);
  el.picture.addEventListener("pointerup", endDrag);
  el.picture.addEventListener("keydown", (e) => {
    if (e.key === "+" || e.key === "=") zoomStep(1);
    else if (e.key === "-") zoomStep(-1);
  });
  el.minimap.addEventListener("pointerdown", (e) => { e.stopPropagation(); minimapJump(e); });
  el.image.addEventListener("load", pictureShown);
  window.addEventListener("resize", () => (surface.fit ? fitView() : updateMinimap()));
  wireEdits();
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
