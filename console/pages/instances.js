// Instances: every live instance of the namespace (state, busy slots, memory, age),
// refreshed every two seconds while the page is open.
import { api, nsPath } from "../api.js";
import { h, mount, fmt, table, card, button, errorNotice, link, pill } from "../dom.js";
import { meter } from "../chart.js";
import { kpi } from "./functions.js";

export async function render(ctx) {
  const { root, signal, query: q } = ctx;
  let auto = true;
  const autoBtn = button("Auto-refresh: on", () => { auto = !auto; autoBtn.textContent = "Auto-refresh: " + (auto ? "on" : "off"); if (auto) tick(); }, { kind: "ghost" });
  const filter = h("input", { type: "search", class: "search", placeholder: "Filter by function", value: q.get("function") || "", "aria-label": "Filter by function" });
  const kpis = h("div", { class: "kpis" });
  const body = h("div");
  const stamp = h("span", { class: "muted" });
  root.append(h("div", { class: "page-head" }, h("h1", "Instances"), h("div", { class: "actions" }, stamp, autoBtn)),
    h("div", { class: "toolbar" }, filter), kpis, body);
  let last = [];
  let timer = null;

  function draw() {
    const f = filter.value.trim().toLowerCase();
    const rows = f ? last.filter((i) => i.function.toLowerCase().includes(f)) : last;
    const busy = rows.reduce((s, i) => s + i.busy, 0), slots = rows.reduce((s, i) => s + i.busy + i.free, 0);
    const mem = rows.reduce((s, i) => s + (i.memoryBytes || 0), 0);
    mount(kpis,
      kpi("Instances", fmt.int(rows.length), { "data-kpi": "instances" }),
      kpi("Busy slots", `${fmt.int(busy)} / ${fmt.int(slots)}`, { "data-kpi": "busy" }),
      kpi("Memory (resident)", fmt.bytes(mem), { "data-kpi": "memory" }),
      kpi("Functions", fmt.int(new Set(rows.map((i) => i.function)).size)));
    mount(body, card(null, table([
      { label: "Function", cell: (i) => link(["functions", i.function], i.function, { class: "strong" }) },
      { label: "Version", cell: (i) => i.version },
      { label: "Instance", cell: (i) => h("code", i.id) },
      { label: "State", cell: (i) => pill(i.state) },
      { label: "Busy slots", cell: (i) => h("span", { class: "slots" }, meter(i.busy, i.busy + i.free), ` ${i.busy}/${i.busy + i.free}`) },
      { label: "Memory", num: true, cell: (i) => fmt.bytes(i.memoryBytes) },
      { label: "Age", num: true, cell: (i) => fmt.age(i.ageSeconds) },
      { label: "Init", num: true, cell: (i) => fmt.ms(i.initMs) },
      { label: "PID", num: true, cell: (i) => (i.pid ? String(i.pid) : "—") },
      { label: "Provisioned", cell: (i) => (i.provisioned ? pill("provisioned", "info") : "") },
    ], rows, { empty: "No instances are running. Instances start on the first invocation and stop when idle." })));
  }
  filter.addEventListener("input", draw);

  async function tick() {
    clearTimeout(timer);
    try {
      last = (await api(nsPath("instances"), { signal })).instances;
      stamp.textContent = "updated " + new Date().toLocaleTimeString();
      draw();
    } catch (err) {
      if (signal.aborted) return;
      mount(body, errorNotice(err, "the instances"));
      auto = false;
      autoBtn.textContent = "Auto-refresh: off";
    }
    if (auto && !signal.aborted) timer = setTimeout(tick, 2000);
  }
  await tick();
  return () => clearTimeout(timer);
}
