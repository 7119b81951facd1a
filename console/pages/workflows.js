// Workflows: the namespace's state machines, one's definition drawn as a graph with its
// executions, and an execution's path (states entered, the current one, where it failed)
// over its history. A server without workflows answers 404: the page says so.
import { api, nsPath, query } from "../api.js";
import { h, s, mount, fmt, table, card, facts, button, pre, notice, errorNotice, link, pill, spinner } from "../dom.js";

const STATUSES = ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"];

/** Shows the "not available" state when the server has no workflow routes at all (its
 * router's bare 404, not a workflow or execution that does not exist). */
function unavailable(root, err, anyNotFound = false) {
  if (err && err.status === 404 && (anyNotFound || err.message === "Not Found")) {
    mount(root, h("div", { "data-testid": "unavailable" }, notice("info", "Workflows are not available on this server.",
      "It does not run state machines (GET …/workflows answered 404).")));
    return true;
  }
  return false;
}

export async function render(ctx) {
  const [wf, sub, name] = ctx.params;
  if (wf && sub === "executions" && name) return execution(ctx, wf, name);
  if (wf) return workflow(ctx, wf);
  return list(ctx);
}

async function list(ctx) {
  const { root, signal } = ctx;
  const body = h("div", spinner());
  root.append(h("div", { class: "page-head" }, h("h1", "Workflows")), body);
  try {
    const res = await api(nsPath("workflows"), { signal });
    mount(body, card(null, table([
      { label: "Workflow", cell: (w) => link(["workflows", w.name], w.name, { class: "strong" }) },
      { label: "Revision", num: true, cell: (w) => String(w.revision) },
      { label: "Created", cell: (w) => fmt.time(w.createdAt) },
      { label: "Updated", cell: (w) => h("span", { title: fmt.time(w.updatedAt) }, fmt.ago(w.updatedAt)) },
    ], [...res.workflows].sort((a, b) => a.name.localeCompare(b.name)), { empty: "No workflows. Declare them under `workflows:` in swell.yaml.", rowAttrs: (w) => ({ "data-workflow": w.name }) })));
  } catch (err) {
    if (!signal.aborted && !unavailable(body, err, true)) mount(body, errorNotice(err, "the workflows"));
  }
}

// ---- the graph ----

/** The edges of a state: [target, label]. */
function edges(state) {
  const out = [];
  if (state.Next) out.push([state.Next, ""]);
  for (const c of state.Choices || []) if (c.Next) out.push([c.Next, "choice"]);
  if (state.Default) out.push([state.Default, "default"]);
  for (const c of state.Catch || []) if (c.Next) out.push([c.Next, "catch"]);
  return out;
}

/** Layers by breadth-first distance from StartAt (states not reached go last). */
export function layout(def) {
  const states = def.States || {};
  const level = new Map();
  const queue = [];
  if (states[def.StartAt]) { level.set(def.StartAt, 0); queue.push(def.StartAt); }
  while (queue.length) {
    const n = queue.shift();
    for (const [t] of edges(states[n] || {})) {
      if (states[t] && !level.has(t)) { level.set(t, level.get(n) + 1); queue.push(t); }
    }
  }
  let max = Math.max(-1, ...level.values());
  for (const n of Object.keys(states)) if (!level.has(n)) level.set(n, ++max);
  const rows = [];
  for (const [n, l] of level) (rows[l] ||= []).push(n);
  return rows.filter(Boolean);
}

/** The definition as SVG; `marks`: name → "visited" | "current" | "failed". */
export function graph(def, marks = new Map()) {
  const rows = layout(def);
  const W = 168, H = 44, GX = 28, GY = 46;
  const width = Math.max(1, ...rows.map((r) => r.length)) * (W + GX) + GX + 40;
  const height = rows.length * (H + GY) + GY;
  const pos = new Map();
  rows.forEach((r, i) => {
    const rowW = r.length * (W + GX) - GX;
    r.forEach((n, j) => pos.set(n, { x: (width - rowW) / 2 + j * (W + GX), y: GY / 2 + i * (H + GY) }));
  });
  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "wfgraph", role: "img", "aria-label": "State machine" },
    s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }))));
  const states = def.States || {};
  for (const [n, st] of Object.entries(states)) {
    const a = pos.get(n);
    for (const [t, label] of edges(st)) {
      const b = pos.get(t);
      if (!b) continue;
      const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
      let d;
      if (b.y > a.y) d = `M ${x1} ${y1} C ${x1} ${y1 + GY / 2}, ${x2} ${y2 - GY / 2}, ${x2} ${y2}`;
      else { // back edge: around the right side
        const rx = Math.max(a.x, b.x) + W + 18;
        d = `M ${a.x + W} ${a.y + H / 2} C ${rx} ${a.y + H / 2}, ${rx} ${b.y + H / 2}, ${b.x + W} ${b.y + H / 2}`;
      }
      svg.append(s("path", { d, class: ["edge", label && "edge-" + label].filter(Boolean).join(" "), "marker-end": "url(#arrow)" },
        s("title", {}, `${n} → ${t}${label ? " (" + label + ")" : ""}`)));
    }
  }
  for (const [n, st] of Object.entries(states)) {
    const p = pos.get(n);
    const mark = marks.get(n);
    const kind = String(st.Type || "").toLowerCase();
    const g = s("g", { class: `node node-${kind}${mark ? " " + mark : ""}`, dataset: { state: n, mark: mark || "" }, transform: `translate(${p.x} ${p.y})` },
      s("rect", { width: W, height: H, rx: kind === "succeed" || kind === "fail" ? 22 : 8 }),
      s("text", { x: W / 2, y: 19, class: "node-name", "text-anchor": "middle" }, n.length > 22 ? n.slice(0, 21) + "…" : n),
      s("text", { x: W / 2, y: 35, class: "node-type", "text-anchor": "middle" },
        st.Type + (st.Type === "Parallel" ? ` · ${(st.Branches || []).length} branches` : "") + (st.Resource ? " · " + String(st.Resource).split(":").pop() : "")),
      s("title", {}, `${n} (${st.Type})`));
    if (n === def.StartAt) g.append(s("circle", { cx: W / 2, cy: -8, r: 5, class: "start-dot" }));
    svg.append(g);
  }
  return h("div", { class: "wfgraph-box" }, svg);
}

/** Which states an execution went through, from its history. */
export function marksFrom(events, status) {
  const entered = new Map(), exited = new Map();
  let last = null;
  for (const e of events) {
    if (!e.name) continue;
    if (/StateEntered$/.test(e.type)) { entered.set(e.name, (entered.get(e.name) || 0) + 1); last = e.name; }
    if (/StateExited$/.test(e.type)) exited.set(e.name, (exited.get(e.name) || 0) + 1);
  }
  const marks = new Map();
  for (const n of entered.keys()) {
    const open = entered.get(n) > (exited.get(n) || 0);
    marks.set(n, open ? (status === "RUNNING" ? "current" : "failed") : "visited");
  }
  if (status !== "RUNNING" && status !== "SUCCEEDED" && last && marks.get(last) === "visited") marks.set(last, "failed");
  return marks;
}

// ---- one workflow ----

async function workflow(ctx, wf) {
  const { root, signal, query: q } = ctx;
  const status = q.get("status") || "";
  root.append(h("div", { class: "page-head" }, h("div", h("div", { class: "crumbs" }, link(["workflows"], "Workflows"), " / "), h("h1", wf))));
  const body = h("div", spinner());
  root.append(body);
  let w;
  try {
    w = (await api(nsPath("workflows", wf), { signal })).workflow;
  } catch (err) {
    if (!signal.aborted && !unavailable(body, err)) mount(body, errorNotice(err, `workflow ${wf}`));
    return;
  }
  const execBox = h("div", spinner());
  const pager = h("div", { class: "pager" });
  const filter = h("div", { class: "tabs" }, ["", ...STATUSES].map((st) =>
    h("a", { href: "#/workflows/" + encodeURIComponent(wf) + (st ? "?status=" + st : ""), class: ["tab", st === status && "active"] }, st || "all")));
  mount(body,
    card("Definition", facts([["Revision", String(w.revision)], ["Updated", fmt.time(w.updatedAt)], ["Start at", w.definition && w.definition.StartAt],
      ["Comment", w.definition && w.definition.Comment]]), w.definition ? graph(w.definition) : null),
    card(null, h("div", { class: "card-head" }, h("h2", "Executions"), filter), execBox, pager));
  const cursors = [null];
  let page = 0;
  async function load() {
    try {
      const res = await api(nsPath("workflows", wf, "executions") + query({ status, limit: 50, cursor: cursors[page] }), { signal });
      cursors[page + 1] = res.nextCursor;
      mount(execBox, table([
        { label: "Execution", cell: (e) => link(["workflows", wf, "executions", e.name], e.name, { class: "mono" }) },
        { label: "Status", cell: (e) => pill(e.status, e.status.toLowerCase().replace("_", "")) },
        { label: "Started", cell: (e) => fmt.time(e.startDate) },
        { label: "Stopped", cell: (e) => fmt.time(e.stopDate) },
        { label: "Redrives", num: true, cell: (e) => String(e.redriveCount) },
        { label: "Error", class: "clip", cell: (e) => e.error || "" },
      ], res.executions, { empty: "No executions.", rowAttrs: (e) => ({ "data-execution": e.name }) }));
      mount(pager,
        button("← Newer", () => { page--; load(); }, { disabled: page === 0, kind: "ghost" }),
        h("span", { class: "muted" }, `Page ${page + 1}`),
        button("Older →", () => { page++; load(); }, { disabled: !res.nextCursor, kind: "ghost" }));
    } catch (err) {
      if (!signal.aborted) mount(execBox, errorNotice(err, "the executions"));
    }
  }
  await load();
}

// ---- one execution ----

async function execution(ctx, wf, name) {
  const { root, signal } = ctx;
  const actions = h("div", { class: "actions" });
  root.append(h("div", { class: "page-head" },
    h("div", h("div", { class: "crumbs" }, link(["workflows"], "Workflows"), " / ", link(["workflows", wf], wf), " / "), h("h1", { class: "mono" }, name)), actions));
  const alertBox = h("div");
  const body = h("div", spinner());
  root.append(alertBox, body);
  let timer = null;

  async function act(what) {
    try {
      await api(nsPath("workflows", wf, "executions", name, what), { method: "POST", body: what === "stop" ? { error: "Console.Stopped", cause: "stopped from the console" } : {} });
      await load();
    } catch (err) { mount(alertBox, errorNotice(err, `${what} of this execution`)); }
  }

  async function load() {
    clearTimeout(timer);
    let ex, w, events = [];
    try {
      ex = (await api(nsPath("workflows", wf, "executions", name), { signal })).execution;
      w = (await api(nsPath("workflows", wf), { signal })).workflow;
      let cursor = null;
      for (let i = 0; i < 20; i++) {   // at most 20 pages of 1,000 events
        const page = await api(nsPath("workflows", wf, "executions", name, "history") + query({ cursor, limit: 1000 }), { signal });
        events.push(...page.events);
        cursor = page.nextCursor;
        if (!cursor) break;
      }
    } catch (err) {
      if (!signal.aborted && !unavailable(body, err)) mount(body, errorNotice(err, `execution ${name}`));
      return;
    }
    const running = ex.status === "RUNNING";
    const canWrite = ctx.identity.role !== "invoker";
    mount(actions, h("span", { id: "execution-status" }, pill(ex.status, ex.status.toLowerCase().replace("_", ""))),
      canWrite && running ? button("Stop", () => act("stop"), { kind: "danger", testid: "execution-stop" }) : null,
      canWrite && (ex.status === "FAILED" || ex.status === "ABORTED") ? button("Redrive", () => act("redrive"), { testid: "execution-redrive" }) : null);
    const marks = marksFrom(events, ex.status);
    mount(body,
      h("div", { class: "grid-2" },
        card("Execution", facts([["Status", pill(ex.status, ex.status.toLowerCase().replace("_", ""))], ["Started", fmt.time(ex.startDate)], ["Stopped", fmt.time(ex.stopDate)],
          ["Revision", ex.revision === undefined ? "" : String(ex.revision)], ["Redrives", String(ex.redriveCount)],
          ["Error", ex.error], ["Cause", ex.cause]])),
        h("div", { class: "stack" }, card("Input", pre(fmt.json(ex.input))), ex.output !== undefined && ex.output !== null ? card("Output", pre(fmt.json(ex.output))) : null)),
      card("Path", h("div", { class: "legend" }, h("span", { class: "key mark-visited" }, h("i", { class: "swatch" }), "passed"),
        h("span", { class: "key mark-current" }, h("i", { class: "swatch" }), "current"), h("span", { class: "key mark-failed" }, h("i", { class: "swatch" }), "failed")),
      w.definition ? graph(w.definition, marks) : null),
      card("History", table([
        { label: "#", num: true, cell: (e) => String(e.id) },
        { label: "Time", cell: (e) => fmt.time(e.timestamp) },
        { label: "Event", cell: (e) => h("code", e.type) },
        { label: "State", cell: (e) => e.name || "" },
        { label: "Detail", class: "wrap", cell: (e) => (e.error ? `${e.error}${e.cause ? ": " + e.cause : ""}` : e.output !== undefined ? JSON.stringify(e.output) : e.input !== undefined ? JSON.stringify(e.input) : e.resource || "") },
      ], events, { empty: "No events.", rowAttrs: (e) => ({ "data-event": String(e.id) }) })));
    if (running && !signal.aborted) timer = setTimeout(load, 2000);
  }
  await load();
  return () => clearTimeout(timer);
}
