// Audit log: who changed what, newest first, a page at a time (GET /v1/audit with the
// `next` cursor). A server without an audit log answers 404: the page says so.
import { api, query, session } from "../api.js";
import { h, mount, fmt, table, card, button, notice, errorNotice, spinner } from "../dom.js";

const LIMIT = 100;

function details(d) {
  if (!d || typeof d !== "object") return "";
  const entries = Object.entries(d);
  if (!entries.length) return "";
  return h("span", { class: "details" }, entries.map(([k, v]) =>
    h("span", { class: "detail" }, h("span", { class: "muted" }, k + "="), typeof v === "string" ? v : JSON.stringify(v))));
}

export async function render(ctx) {
  const { root, signal } = ctx;
  const body = h("div", spinner());
  const more = h("div", { class: "pager" });
  root.append(h("div", { class: "page-head" }, h("h1", "Audit log"), h("span", { class: "muted" }, "Every control-plane change: who, when, from where, what.")), body, more);
  const rows = [];
  let next = null;
  const tbody = h("div");

  async function load(before) {
    let res;
    try {
      res = await api("/v1/audit" + query({ namespace: session.namespace, limit: LIMIT, before }), { signal });
    } catch (err) {
      if (signal.aborted) return false;
      if (err.status === 404 && rows.length === 0) {
        mount(body, h("div", { "data-testid": "unavailable" }, notice("info", "The audit log is not available on this server.",
          "It does not record control-plane changes (GET /v1/audit answered 404).")));
      } else {
        mount(more, errorNotice(err, "the audit log"));
      }
      return false;
    }
    rows.push(...(res.entries || []));
    next = res.next || null;
    return true;
  }
  function draw() {
    mount(tbody, card(null, table([
      { label: "Time", cell: (e) => h("span", { title: e.time }, fmt.time(e.time)) },
      { label: "Action", cell: (e) => h("code", e.action) },
      { label: "Target", cell: (e) => e.target },
      { label: "Namespace", cell: (e) => e.namespace },
      { label: "Key", cell: (e) => h("code", e.keyId) },
      { label: "Role", cell: (e) => e.role },
      { label: "Address", cell: (e) => e.address },
      { label: "Details", class: "wrap", cell: (e) => details(e.details) },
    ], rows, { empty: "No changes recorded yet.", rowAttrs: (e) => ({ "data-entry": e.id }) })));
    mount(more, next ? button("Load older entries", async (ev) => { ev.target.disabled = true; if (await load(next)) draw(); }, { kind: "ghost", testid: "audit-more" })
      : h("span", { class: "muted" }, rows.length ? `${fmt.int(rows.length)} entries, the oldest reached.` : ""));
  }
  if (await load(null)) { mount(body, tbody); draw(); }
}
