// Functions: a paged, filterable list, and one function's configuration, versions,
// aliases (with their traffic split), URL and triggers (state, counters, Kafka lag).
import { api, nsPath, session, query, functionList } from "../api.js";
import { h, mount, fmt, table, facts, card, button, pre, notice, errorNotice, link, route, pill, spinner } from "../dom.js";
import { splitBar } from "../chart.js";

const PAGE = 50;

export async function render(ctx) {
  if (ctx.params.length > 0) return detail(ctx, ctx.params[0]);
  return list(ctx);
}

async function list(ctx) {
  const { root, signal, query: q } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", "Functions")));
  const body = h("div", spinner());
  root.append(body);
  let all;
  try {
    all = [...(await functionList({ signal, fresh: true }))];
  } catch (err) {
    if (signal.aborted) return;
    mount(body, errorNotice(err, "the function list"));
    return;
  }
  all.sort((a, b) => a.name.localeCompare(b.name));
  let filter = q.get("q") || "";
  let page = Math.max(0, Number(q.get("page") || 0) | 0);
  const search = h("input", { type: "search", placeholder: "Filter by name, runtime or description", value: filter, class: "search", "aria-label": "Filter functions" });
  const count = h("span", { class: "muted" });
  const tableBox = h("div");
  const pager = h("div", { class: "pager" });

  function draw() {
    const f = filter.toLowerCase();
    const rows = f ? all.filter((x) => x.name.toLowerCase().includes(f) || x.runtime.includes(f) || (x.description || "").toLowerCase().includes(f)) : all;
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    page = Math.min(page, pages - 1);
    const shown = rows.slice(page * PAGE, page * PAGE + PAGE);
    count.textContent = `${fmt.int(rows.length)} of ${fmt.int(all.length)} functions`;
    mount(tableBox, table([
      { label: "Name", cell: (r) => link(["functions", r.name], r.name, { class: "strong" }) },
      { label: "Runtime", cell: (r) => h("code", r.runtime) },
      { label: "Memory", num: true, cell: (r) => fmt.mb(r.memory) },
      { label: "Timeout", num: true, cell: (r) => r.timeout + " s" },
      { label: "Triggers", num: true, cell: (r) => String((r.triggers || []).length) },
      { label: "URL", cell: (r) => (r.url ? pill(r.url.auth === "none" ? "public" : "key", "info") : h("span", { class: "muted" }, "—")) },
      { label: "Description", class: "clip", cell: (r) => r.description || "" },
      { label: "Updated", cell: (r) => h("span", { title: fmt.time(r.updatedAt) }, fmt.ago(r.updatedAt)) },
      { label: "", cell: (r) => h("span", { class: "row-actions" }, link(["invoke", r.name], "Invoke"), link(["logs", r.name], "Logs")) },
    ], shown, { empty: all.length ? "No function matches." : "No functions in this namespace yet. Deploy one with `swell deploy`." }));
    mount(pager,
      button("← Previous", () => { page--; draw(); }, { disabled: page === 0, kind: "ghost" }),
      h("span", { class: "muted" }, `Page ${page + 1} of ${pages}`),
      button("Next →", () => { page++; draw(); }, { disabled: page >= pages - 1, kind: "ghost" }));
  }
  search.addEventListener("input", () => { filter = search.value; page = 0; draw(); });
  mount(body, h("div", { class: "toolbar" }, search, count), tableBox, pager);
  draw();
}

function envTable(env) {
  const entries = Object.entries(env || {}).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h("p", { class: "muted" }, "No environment variables.");
  return table([{ label: "Variable", cell: (r) => h("code", r[0]) }, { label: "Value", class: "wrap", cell: (r) => h("code", r[1]) }], entries);
}

function configFacts(f) {
  return facts([
    ["Runtime", h("code", f.runtime)],
    ["Handler", h("code", f.handler)],
    ["Memory", fmt.mb(f.memory)],
    ["Timeout", f.timeout + " s"],
    ["Concurrency", String(f.concurrency) + " per instance"],
    ["Code", h("code", { title: f.codeSha256 }, f.codeSha256.slice(0, 12) + "… · " + fmt.bytes(f.codeSize))],
    ["Revision", String(f.revision)],
    ["Created", fmt.time(f.createdAt)],
    ["Updated", fmt.time(f.updatedAt)],
    ["Description", f.description],
  ]);
}

function aliasCard(fn, aliases) {
  if (!aliases.length) return card("Aliases", h("p", { class: "muted" }, "No aliases. Publish a version and point an alias at it to split traffic."));
  return card("Aliases", h("div", { class: "stack" }, aliases.map((a) => {
    const extra = Object.entries(a.additionalVersionWeights || {});
    const rest = Math.max(0, 1 - extra.reduce((s, [, w]) => s + w, 0));
    const parts = [{ label: "v" + a.version, weight: rest }, ...extra.map(([v, w]) => ({ label: "v" + v, weight: w }))];
    return h("div", { class: "alias", "data-alias": a.name },
      h("div", { class: "alias-head" }, h("strong", a.name), h("span", { class: "muted" }, " → version " + a.version + (extra.length ? " (canary)" : "")),
        a.description ? h("span", { class: "muted" }, " · " + a.description) : null),
      splitBar(parts));
  })));
}

function triggerCard(ctx, fn, triggers, reload) {
  const canWrite = ctx.identity.role !== "invoker";
  if (!triggers.length) return card("Triggers", h("p", { class: "muted" }, "No triggers. Declare Kafka, timer or object-store triggers in swell.yaml."));
  return card("Triggers", h("div", { class: "stack" }, triggers.map((t) => {
    const act = async (action) => {
      try {
        await api(nsPath("functions", fn, "triggers", t.name, action), { method: "POST" });
        reload();
      } catch (err) { alertBox.replaceChildren(errorNotice(err, `${action} of trigger ${t.name}`)); }
    };
    const alertBox = h("div");
    const c = t.counters || {};
    const rows = [
      ["Type", t.type], ["Qualifier", t.qualifier],
      ["Events", fmt.int(c.events)], ["Invocations", fmt.int(c.invocations)], ["Succeeded", fmt.int(c.succeeded)],
      ["Failed attempts", fmt.int(c.failedAttempts)], ["Dead-lettered", fmt.int(c.deadLettered)],
    ];
    if (t.timer) rows.push(["Last fire", fmt.time(t.timer.lastFire)], ["Next fire", t.timer.nextFire ? fmt.time(t.timer.nextFire) : "paused"]);
    if (t.config && t.config.topics) rows.push(["Topics", t.config.topics.join(", ")]);
    if (t.error) rows.push(["Last error", h("span", { class: "error-text" }, `${t.error} (${fmt.time(t.errorAt)})`)]);
    let kafka = null;
    if (t.kafka) {
      const k = t.kafka;
      kafka = h("div", { class: "kafka" },
        h("div", { class: "kpis small" },
          kpi("Group", k.groupId), kpi("Lag", fmt.int(k.lag)), kpi("In flight", fmt.int(k.inFlight)), kpi("Records/s", fmt.num(k.recordsPerSecond, 1))),
        table([
          { label: "Topic", cell: (p) => p.topic }, { label: "Partition", num: true, cell: (p) => String(p.partition) },
          { label: "Position", num: true, cell: (p) => fmt.int(p.position) }, { label: "Committed", num: true, cell: (p) => fmt.int(p.committed) },
          { label: "High watermark", num: true, cell: (p) => fmt.int(p.highWatermark) },
          { label: "Lag", num: true, cell: (p) => h("span", { class: p.lag > 0 ? "warn-text" : "", "data-lag": String(p.lag ?? "") }, fmt.int(p.lag)) },
          { label: "Outstanding", num: true, cell: (p) => fmt.int(p.outstanding) },
        ], k.partitions || [], { empty: "No partitions assigned yet." }));
    }
    return h("div", { class: "trigger", "data-trigger": t.name },
      h("div", { class: "trigger-head" }, h("strong", t.name), pill(t.type, "info"), pill(t.state),
        h("div", { class: "spacer" }),
        canWrite ? (t.state === "paused" ? button("Resume", () => act("resume")) : button("Pause", () => act("pause"), { kind: "ghost" })) : null),
      alertBox, facts(rows), kafka);
  })));
}

export function kpi(label, value, attrs = {}, sub = null) {
  return h("div", { class: "kpi", ...attrs }, h("div", { class: "kpi-label" }, label), h("div", { class: "kpi-value" }, value),
    sub ? h("div", { class: "kpi-sub" }, sub) : null);
}

/** An object's fields as label/value pairs (nested values as compact JSON). */
function objectFacts(obj) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return h("p", { class: "muted" }, "Defaults.");
  return facts(entries.map(([k, v]) => [k, v === null ? "—" : typeof v === "object" ? h("code", JSON.stringify(v)) : String(v)]));
}

async function detail(ctx, name) {
  const { root, signal } = ctx;
  const head = h("div", { class: "page-head" },
    h("div", h("div", { class: "crumbs" }, link(["functions"], "Functions"), " / "), h("h1", name)),
    h("div", { class: "actions" }, link(["invoke", name], "Invoke", { class: "btn btn-primary" }), link(["logs", name], "Live logs", { class: "btn" }),
      link(["tasks"], "Tasks", { class: "btn", params: { function: name } })));
  const body = h("div", spinner());
  root.append(head, body);

  async function load() {
    let d;
    try {
      d = await api(nsPath("functions", name), { signal });
    } catch (err) {
      if (!signal.aborted) mount(body, errorNotice(err, `function ${name}`));
      return;
    }
    const f = d.function;
    let triggers = [], triggerError = null;
    if ((f.triggers || []).length) {
      try { triggers = (await api(nsPath("triggers") + query({ function: name }), { signal })).triggers; } catch (err) { triggerError = err; }
    }
    if (signal.aborted) return;
    const urlBox = f.url
      ? (() => {
        const abs = location.origin + f.url.path;
        return facts([["URL", h("a", { href: f.url.path, target: "_blank", rel: "noopener noreferrer" }, abs)], ["Auth", f.url.auth === "none" ? "public (no key)" : "API key"], ["Qualifier", f.url.qualifier]]);
      })()
      : h("p", { class: "muted" }, "No function URL. Add `url:` to the function in swell.yaml.");
    mount(body,
      h("div", { class: "grid-2" },
        card("Configuration", configFacts(f)),
        h("div", { class: "stack" }, card("Function URL", urlBox), card("Environment", envTable(f.environment)))),
      h("div", { class: "grid-2" },
        card("Scaling and async", h("div", { class: "grid-facts" },
          h("div", h("h3", "Scaling"), objectFacts(f.scaling)), h("div", h("h3", "Async invocations"), objectFacts(f.async)))),
        aliasCard(name, d.aliases)),
      card("Versions", table([
        { label: "Version", cell: (v) => h("strong", v.version) },
        { label: "Runtime", cell: (v) => h("code", v.runtime) },
        { label: "Memory", num: true, cell: (v) => fmt.mb(v.memory) },
        { label: "Timeout", num: true, cell: (v) => v.timeout + " s" },
        { label: "Code", cell: (v) => h("code", v.codeSha256.slice(0, 12)) },
        { label: "Description", class: "clip", cell: (v) => v.description },
        { label: "Published", cell: (v) => fmt.time(v.publishedAt) },
      ], [...d.versions].sort((a, b) => Number(b.version) - Number(a.version)), { empty: "No published versions: only $LATEST." })),
      triggerError ? card("Triggers", errorNotice(triggerError, "the triggers")) : triggerCard(ctx, name, triggers, load));
  }
  await load();
}
