// Building the page without ever turning data into HTML: every text goes through
// textContent or an attribute, never innerHTML (the CSP's Trusted Types would refuse it).

const SVG_NS = "http://www.w3.org/2000/svg";

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

function applyAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.className = Array.isArray(v) ? v.filter(Boolean).join(" ") : v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style") Object.assign(el.style, v);           // CSSOM, allowed by the CSP
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "value" || k === "checked" || k === "disabled" || k === "selected") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
}

/** `h("a", {href: "#/x", class: "c"}, "text", child…)`. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs && (attrs instanceof Node || typeof attrs !== "object" || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  applyAttrs(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element (charts). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Replaces an element's children. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An in-app link to a hash route built from encoded parts: `link(["functions", name], "text")`. */
export function route(parts, params) {
  let r = "#/" + parts.map((p) => encodeURIComponent(String(p))).join("/");
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
    const qs = q.toString();
    if (qs) r += "?" + qs;
  }
  return r;
}
export const link = (parts, text, attrs = {}) => h("a", { href: route(parts, attrs.params), class: attrs.class }, text);

// ---- formatting ----

export const fmt = {
  int(n) { return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 0 }); },
  num(n, digits = 2) {
    if (n === null || n === undefined || Number.isNaN(n)) return "—";
    return Number(n).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  },
  ms(n) {
    if (n === null || n === undefined) return "—";
    if (n >= 10_000) return (n / 1000).toFixed(1) + " s";
    if (n >= 100) return Math.round(n) + " ms";
    return Number(n).toFixed(1) + " ms";
  },
  bytes(n) {
    if (n === null || n === undefined) return "—";
    const units = ["B", "KB", "MB", "GB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n >= 100 ? 0 : 1)) + " " + units[i];
  },
  mb(n) { return n === null || n === undefined ? "—" : `${n} MB`; },
  /** Small amounts keep three significant digits (`0.00175`), others as `num` would. */
  sig(n, digits = 3) {
    if (n === null || n === undefined || Number.isNaN(n)) return "—";
    if (n === 0 || Math.abs(n) >= 1) return fmt.num(n, digits);
    return Number(n).toLocaleString("en-US", { maximumSignificantDigits: 3 });
  },
  money(n) {
    if (n === null || n === undefined) return "—";
    // A cent or less (a few calls at list prices): its significant digits, not $0.0000.
    if (n !== 0 && Math.abs(n) < 0.01) return "$" + Number(n).toLocaleString("en-US", { maximumSignificantDigits: 3, maximumFractionDigits: 20 });
    const digits = Math.abs(n) >= 100 ? 2 : Math.abs(n) >= 1 ? 2 : 4;
    return "$" + Number(n).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  },
  age(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return Math.floor(seconds) + "s";
    if (seconds < 3600) return Math.floor(seconds / 60) + "m " + Math.floor(seconds % 60) + "s";
    if (seconds < 86400) return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
    return Math.floor(seconds / 86400) + "d " + Math.floor((seconds % 86400) / 3600) + "h";
  },
  time(iso) {
    if (!iso) return "—";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
  },
  ago(iso) {
    if (!iso) return "—";
    const s = (Date.now() - new Date(iso).getTime()) / 1000;
    if (s < 0) return "in " + fmt.age(-s);
    return fmt.age(s) + " ago";
  },
  json(v) { return JSON.stringify(v, null, 2); },
};

// ---- components ----

/** A state pill: `pill("running")` → colored by state. */
export function pill(text, kind) {
  return h("span", { class: ["pill", "pill-" + (kind || String(text).replace(/[^a-zA-Z]/g, ""))] }, text);
}

/** A table: columns `[{label, cell: row => node|text, class, num}]`. */
export function table(columns, rows, { empty = "Nothing here yet.", rowAttrs } = {}) {
  const head = h("thead", h("tr", columns.map((c) => h("th", { class: [c.num && "num", c.class] }, c.label))));
  const body = h("tbody");
  if (rows.length === 0) {
    body.append(h("tr", h("td", { class: "empty", colspan: String(columns.length) }, empty)));
  }
  for (const r of rows) {
    const tr = h("tr", rowAttrs ? rowAttrs(r) : null);
    for (const c of columns) tr.append(h("td", { class: [c.num && "num", c.class] }, c.cell(r)));
    body.append(tr);
  }
  return h("div", { class: "table-wrap" }, h("table", { class: "data" }, head, body));
}

/** Label/value pairs. */
export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(Boolean).map(([k, v]) => [h("dt", k), h("dd", v === undefined || v === null || v === "" ? "—" : v)]));
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", title) : null, ...children);
}

export function button(text, onclick, { kind = "", disabled = false, title, testid } = {}) {
  return h("button", { type: "button", class: ["btn", kind && "btn-" + kind], onclick, disabled, title, "data-testid": testid }, text);
}

/** A block of preformatted text (JSON, logs). */
export const pre = (text, cls) => h("pre", { class: ["code", cls] }, text);

/** A notice: `kind` is info, error, warn or empty. */
export function notice(kind, title, text) {
  return h("div", { class: ["notice", "notice-" + kind], role: kind === "error" ? "alert" : "status" },
    h("strong", title), text ? h("span", " " + text) : null);
}

/** What a failed call shows: a 403 says the key may not see this, not that something broke. */
export function errorNotice(err, what = "this") {
  if (err && err.status === 403) return notice("warn", "Not visible with this key.", `The server refused ${what} (403: ${err.message}).`);
  if (err && err.status === 404) return notice("warn", "Not found.", err.message);
  return notice("error", "Request failed.", err && err.message ? err.message : String(err));
}

export const spinner = () => h("div", { class: "loading", role: "status" }, "Loading…");
