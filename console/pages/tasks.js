// Tasks: counts per state, a filtered list paged by the server's cursor (so 100,000 tasks
// cost one page), and a task's detail with its attempts and logs, stop and retry.
import { api, nsPath, query } from "../api.js";
import { h, mount, fmt, table, card, facts, button, pre, notice, errorNotice, link, route, pill, spinner } from "../dom.js";
import { kpi } from "./functions.js";

const STATES = ["queued", "running", "succeeded", "failed", "stopped", "expired"];
const LIMIT = 50;

export async function render(ctx) {
  if (ctx.params.length > 0) return detail(ctx, ctx.params[0]);
  return list(ctx);
}

function toISO(local) {
  if (!local) return "";
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? "" : d.toISOString();
}
function toLocal(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function duration(t) {
  if (!t.finishedAt) return "—";
  return fmt.ms(new Date(t.finishedAt) - new Date(t.createdAt));
}

async function list(ctx) {
  const { root, signal, query: q } = ctx;
  const filters = { function: q.get("function") || "", state: q.get("state") || "", since: q.get("since") || "", until: q.get("until") || "" };
  const fn = h("input", { class: "input", placeholder: "any function", value: filters.function, "aria-label": "Function", id: "tasks-function" });
  const state = h("select", { class: "input", "aria-label": "State", id: "tasks-state" },
    h("option", { value: "" }, "any state"), STATES.map((s) => h("option", { value: s, selected: s === filters.state }, s)));
  const since = h("input", { type: "datetime-local", class: "input", value: toLocal(filters.since), "aria-label": "Created since" });
  const until = h("input", { type: "datetime-local", class: "input", value: toLocal(filters.until), "aria-label": "Created before" });
  const apply = () => {
    location.hash = route(["tasks"], { function: fn.value.trim(), state: state.value, since: toISO(since.value), until: toISO(until.value) });
  };
  const form = h("form", { class: "form-row", onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("label", { class: "field" }, h("span", "Function"), fn),
    h("label", { class: "field" }, h("span", "State"), state),
    h("label", { class: "field" }, h("span", "Created since"), since),
    h("label", { class: "field" }, h("span", "Created before"), until),
    h("div", { class: "spacer" }),
    h("button", { type: "submit", class: "btn btn-primary" }, "Apply"),
    link(["tasks"], "Reset", { class: "btn btn-ghost" }));
  state.addEventListener("change", apply);
  const kpis = h("div", { class: "kpis", id: "task-summary" });
  const body = h("div", spinner());
  const pager = h("div", { class: "pager" });
  root.append(h("div", { class: "page-head" }, h("h1", "Tasks")), card(null, form), kpis, body, pager);

  // The counts per state (clicking one filters by it).
  api(nsPath("tasks", "summary") + query({ function: filters.function }), { signal }).then((sum) => {
    mount(kpis, STATES.map((s) => h("a", { class: ["kpi", "kpi-link", filters.state === s && "selected"], href: route(["tasks"], { ...filters, state: filters.state === s ? "" : s }), "data-state": s },
      h("div", { class: "kpi-label" }, pill(s)), h("div", { class: "kpi-value" }, fmt.int(sum[s] || 0)))));
  }).catch((err) => { if (!signal.aborted) mount(kpis, errorNotice(err, "the task counts")); });

  const cursors = [null];   // cursors[i] is the cursor of page i
  let page = 0;
  async function load() {
    mount(body, spinner());
    let res;
    try {
      res = await api(nsPath("tasks") + query({ ...filters, limit: LIMIT, cursor: cursors[page] }), { signal });
    } catch (err) {
      if (!signal.aborted) { mount(body, errorNotice(err, "the task list")); mount(pager); }
      return;
    }
    cursors[page + 1] = res.nextCursor;
    mount(body, card(null, table([
      { label: "Task", cell: (t) => link(["tasks", t.id], t.id, { class: "mono" }) },
      { label: "Function", cell: (t) => link(["functions", t.function], t.function) },
      { label: "Qualifier", cell: (t) => t.qualifier },
      { label: "State", cell: (t) => pill(t.state) },
      { label: "Priority", num: true, cell: (t) => String(t.priority) },
      { label: "Starts", num: true, cell: (t) => String(t.starts) },
      { label: "Created", cell: (t) => h("span", { title: fmt.time(t.createdAt) }, fmt.ago(t.createdAt)) },
      { label: "Duration", num: true, cell: (t) => duration(t) },
      { label: "Error", class: "clip", cell: (t) => (t.error ? h("span", { class: "error-text" }, t.error.errorType || t.error.errorMessage || JSON.stringify(t.error)) : "") },
    ], res.tasks, { empty: "No task matches.", rowAttrs: (t) => ({ "data-task": t.id, "data-state": t.state }) })));
    mount(pager,
      button("← Newer", () => { page--; load(); }, { disabled: page === 0, kind: "ghost" }),
      h("span", { class: "muted" }, `Page ${page + 1} · ${LIMIT} per page`),
      button("Older →", () => { page++; load(); }, { disabled: !res.nextCursor, kind: "ghost", testid: "tasks-older" }));
  }
  await load();
}

async function detail(ctx, id) {
  const { root, signal } = ctx;
  const actions = h("div", { class: "actions" });
  root.append(h("div", { class: "page-head" },
    h("div", h("div", { class: "crumbs" }, link(["tasks"], "Tasks"), " / "), h("h1", { class: "mono" }, id)), actions));
  const body = h("div", spinner());
  const alertBox = h("div");
  root.append(alertBox, body);
  let timer = null;

  async function act(what) {
    try {
      const res = await api(nsPath("tasks", id, what), { method: "POST" });
      mount(alertBox, notice("info", what === "stop" ? `Stop requested: the task is ${res.state}.` : "Queued again."));
      await load();
    } catch (err) { mount(alertBox, errorNotice(err, `${what} of this task`)); }
  }

  async function load() {
    clearTimeout(timer);
    let t;
    try {
      t = (await api(nsPath("tasks", id), { signal })).task;
    } catch (err) {
      if (!signal.aborted) mount(body, errorNotice(err, `task ${id}`));
      return;
    }
    const live = t.state === "queued" || t.state === "running";
    const canWrite = ctx.identity.role !== "invoker";
    mount(actions,
      h("span", { id: "task-state" }, pill(t.state)),
      canWrite && live ? button("Stop", () => act("stop"), { kind: "danger", testid: "task-stop" }) : null,
      canWrite && !live ? button("Retry", () => act("retry"), { testid: "task-retry" }) : null);
    mount(body,
      h("div", { class: "grid-2" },
        card("Task", facts([
          ["Function", link(["functions", t.function], t.function)], ["Qualifier", t.qualifier], ["State", pill(t.state)],
          ["Priority", String(t.priority)], ["Idempotency key", t.idempotencyKey], ["Timeout", t.timeout ? t.timeout + " s" : "function's"],
          ["Created", fmt.time(t.createdAt)], ["Run at", fmt.time(t.runAt)], ["Finished", fmt.time(t.finishedAt)],
          ["Attempts counted", String(t.attemptsCounted)], ["Starts", String(t.starts)],
        ])),
        h("div", { class: "stack" },
          card("Payload", pre(fmt.json(t.payload))),
          t.result !== null && t.result !== undefined ? card("Result", pre(fmt.json(t.result))) : null,
          t.error ? card("Error", pre(fmt.json(t.error), "error-block")) : null)),
      card("Attempts", table([
        { label: "#", num: true, cell: (a) => String(a.number) },
        { label: "Request", cell: (a) => link(["logs", t.function], h("code", a.requestId.slice(0, 13)), { params: { requestId: a.requestId } }) },
        { label: "Started", cell: (a) => fmt.time(a.startedAt) },
        { label: "Outcome", cell: (a) => (a.outcome ? pill(a.outcome) : pill("running")) },
        { label: "Queue delay", num: true, cell: (a) => fmt.ms(a.queueDelayMs) },
        { label: "Duration", num: true, cell: (a) => fmt.ms(a.durationMs) },
        { label: "Cold", cell: (a) => (a.coldStart ? "yes" : "") },
        { label: "Error", class: "clip", cell: (a) => (a.errorType ? `${a.errorType}${a.error ? ": " + a.error : ""}` : "") },
      ], t.attempts || [], { empty: "No attempt has started yet." })),
      card("Logs", (t.logs || []).length
        ? h("div", { class: "logview short" }, t.logs.map((l) => h("div", { class: ["logline", l.stream === "stderr" && "stderr"] },
          h("span", { class: "log-time" }, fmt.time(l.time).slice(11).replace(" UTC", "")), h("span", { class: "log-req" }, (l.requestId || "").slice(0, 8)), h("span", { class: "log-msg" }, l.message))))
        : h("p", { class: "muted" }, "No log lines.")));
    if (live && !signal.aborted) timer = setTimeout(load, 1500);
  }
  await load();
  return () => clearTimeout(timer);
}
