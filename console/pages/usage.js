// Usage and cost: GET /v1/usage per day (or hour) drawn as charts, with the totals, the
// always-on comparison and a per-function table. A server without metering answers 404:
// the page says so instead of failing.
import { api, query, session } from "../api.js";
import { h, mount, fmt, table, card, notice, errorNotice, link, route, spinner } from "../dom.js";
import { chart } from "../chart.js";
import { kpi } from "./functions.js";

const RANGES = [
  { id: "24h", label: "Last 24 hours", by: "hour", hours: 24 },
  { id: "7d", label: "Last 7 days", by: "day", days: 7 },
  { id: "30d", label: "Last 30 days", by: "day", days: 30 },
  { id: "90d", label: "Last 90 days", by: "day", days: 90 },
];

/** The periods of a range, oldest first, in the API's spelling (`2026-12-01`, `2026-12-01T13:00Z`). */
export function periods(range, now = new Date()) {
  const out = [];
  if (range.by === "hour") {
    const end = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours()));
    for (let i = range.hours - 1; i >= 0; i--) out.push(new Date(end - i * 3600e3).toISOString().slice(0, 13) + ":00Z");
  } else {
    const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    for (let i = range.days - 1; i >= 0; i--) out.push(new Date(end - i * 86400e3).toISOString().slice(0, 10));
  }
  return out;
}

function bounds(range, now = new Date()) {
  const p = periods(range, now);
  const since = range.by === "hour" ? p[0].replace("Z", ":00Z") : p[0] + "T00:00:00Z";
  return { since, until: now.toISOString().replace(/\.\d+Z$/, "Z") };
}

const label = (period, by) => (by === "hour" ? period.slice(11, 16) : period.slice(5, 10));

export async function render(ctx) {
  const { root, signal, query: q } = ctx;
  const range = RANGES.find((r) => r.id === q.get("range")) || RANGES[2];
  const tabs = h("div", { class: "tabs", role: "tablist" }, RANGES.map((r) =>
    h("a", { href: route(["usage"], { range: r.id }), class: ["tab", r === range && "active"], role: "tab", "aria-selected": String(r === range) }, r.label)));
  const body = h("div", spinner());
  root.append(h("div", { class: "page-head" }, h("h1", "Usage and cost"), tabs), body);

  const { since, until } = bounds(range);
  const params = { namespace: session.namespace, since, until };
  let usage, byFunction = null;
  try {
    usage = await api("/v1/usage" + query({ ...params, by: range.by }), { signal });
  } catch (err) {
    if (signal.aborted) return;
    if (err.status === 404) {
      mount(body, h("div", { "data-testid": "unavailable" }, notice("info", "Usage is not available on this server.",
        "It does not meter invocations (GET /v1/usage answered 404). Upgrade the server to see usage and cost.")));
      return;
    }
    mount(body, errorNotice(err, "the usage"));
    return;
  }
  try { byFunction = await api("/v1/usage" + query({ ...params, by: "function" }), { signal }); } catch { byFunction = null; }
  if (signal.aborted) return;

  const ps = periods(range);
  // Several namespaces' rows for one period (an admin without a namespace filter) add up.
  const sum = new Map();
  for (const r of usage.rows || []) {
    const cur = sum.get(r.period);
    if (!cur) { sum.set(r.period, r); continue; }
    sum.set(r.period, {
      ...cur, invocations: cur.invocations + r.invocations, errors: cur.errors + r.errors, coldStarts: cur.coldStarts + r.coldStarts,
      gbSeconds: cur.gbSeconds + r.gbSeconds, billedMs: cur.billedMs + r.billedMs, peakInstances: cur.peakInstances + r.peakInstances,
      p50Ms: Math.max(cur.p50Ms ?? 0, r.p50Ms ?? 0), p99Ms: Math.max(cur.p99Ms ?? 0, r.p99Ms ?? 0),
      cost: { total: cur.cost.total + r.cost.total, requests: cur.cost.requests + r.cost.requests, compute: cur.cost.compute + r.cost.compute },
      alwaysOnCost: cur.alwaysOnCost + r.alwaysOnCost,
    });
  }
  const rows = ps.map((p) => sum.get(p) || null);
  const val = (f) => rows.map((r) => (r ? f(r) : 0));
  const valOrGap = (f) => rows.map((r) => (r && r.invocations > 0 ? f(r) : NaN));
  const labels = ps.map((p) => label(p, range.by));
  const t = usage.totals || {};
  const totalCost = t.cost ? t.cost.total : 0;
  const saving = (t.alwaysOnCost ?? 0) - totalCost;
  const prices = usage.prices || {};

  mount(body,
    h("div", { class: "kpis", id: "usage-totals" },
      kpi("Invocations", fmt.int(t.invocations), { "data-kpi": "invocations", "data-value": String(t.invocations ?? "") }),
      kpi("Errors", fmt.int(t.errors), { "data-kpi": "errors", "data-value": String(t.errors ?? "") }),
      kpi("Cold starts", fmt.int(t.coldStarts), { "data-kpi": "coldStarts", "data-value": String(t.coldStarts ?? "") }),
      kpi("GB-seconds", fmt.sig(t.gbSeconds, 3), { "data-kpi": "gbSeconds", "data-value": String(t.gbSeconds ?? "") }),
      kpi("Cost (pay per use)", fmt.money(totalCost), { "data-kpi": "cost", "data-value": String(totalCost) }),
      kpi("Always-on cost", fmt.money(t.alwaysOnCost), { "data-kpi": "alwaysOnCost", "data-value": String(t.alwaysOnCost ?? "") }),
      kpi(saving >= 0 ? "Saving vs always-on" : "Extra vs always-on", h("span", { class: saving >= 0 ? "ok-text" : "error-text" }, fmt.money(Math.abs(saving))),
        { "data-kpi": "saving", "data-value": String(saving) },
        t.alwaysOnCost > 0 ? `${Math.round((Math.abs(saving) / t.alwaysOnCost) * 100)}% ${saving >= 0 ? "less" : "more"} than always-on` : null)),
    h("div", { class: "grid-2" },
      card(null, chart({ id: "invocations", title: "Invocations and errors", labels, series: [
        { name: "invocations", values: val((r) => r.invocations), color: 1 },
        { name: "errors", values: val((r) => r.errors), color: 4 }] })),
      card(null, chart({ id: "latency", title: "Duration p50 / p99 (ms)", labels, series: [
        { name: "p50", kind: "line", values: valOrGap((r) => r.p50Ms), color: 1, format: (v) => fmt.ms(v) },
        { name: "p99", kind: "line", values: valOrGap((r) => r.p99Ms), color: 5, format: (v) => fmt.ms(v) }] })),
      card(null, chart({ id: "coldStarts", title: "Cold starts", labels, series: [{ name: "cold starts", values: val((r) => r.coldStarts), color: 3 }] })),
      card(null, chart({ id: "gbSeconds", title: "GB-seconds", labels, series: [{ name: "GB-s", values: val((r) => r.gbSeconds), color: 2 }] })),
      card(null, chart({ id: "cost", title: `Cost per ${range.by} vs always-on`, labels, yFormat: (v) => "$" + (+v.toPrecision(3)), series: [
        { name: "pay per use", values: val((r) => r.cost.total), color: 1, format: fmt.money },
        { name: "always-on", kind: "line", values: val((r) => r.alwaysOnCost), color: 4, format: fmt.money }] })),
      card("Prices", h("dl", { class: "facts" },
        h("dt", "Per GB-second"), h("dd", "$" + (prices.perGBSecond ?? "—")),
        h("dt", "Per million requests"), h("dd", "$" + (prices.perMillionRequests ?? "—")),
        h("dt", "Always-on, per GB-hour"), h("dd", "$" + (prices.alwaysOnPerGBHour ?? "—"))),
      h("p", { class: "muted small" }, "Always-on is what the same work would cost on machines sized for each hour's peak instance count × memory, kept running. Pay per use is billed milliseconds × memory plus requests."))),
    byFunction ? card("By function", table([
      { label: "Function", cell: (r) => link(["functions", r.function], r.function, { class: "strong" }) },
      { label: "Invocations", num: true, cell: (r) => fmt.int(r.invocations) },
      { label: "Errors", num: true, cell: (r) => fmt.int(r.errors) },
      { label: "Cold starts", num: true, cell: (r) => fmt.int(r.coldStarts) },
      { label: "p50", num: true, cell: (r) => fmt.ms(r.p50Ms) },
      { label: "p99", num: true, cell: (r) => fmt.ms(r.p99Ms) },
      { label: "GB-s", num: true, cell: (r) => fmt.sig(r.gbSeconds, 3) },
      { label: "Peak instances", num: true, cell: (r) => fmt.int(r.peakInstances) },
      { label: "Cost", num: true, cell: (r) => fmt.money(r.cost.total) },
      { label: "Always-on", num: true, cell: (r) => fmt.money(r.alwaysOnCost) },
    ], [...(byFunction.rows || [])].sort((a, b) => b.cost.total - a.cost.total || b.invocations - a.invocations),
    { empty: "No invocations in this range.", rowAttrs: (r) => ({ "data-function": r.function }) })) : null);
}
