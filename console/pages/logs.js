// Live logs: the newest lines of a function, then new ones as they arrive — the same
// long poll as `swell logs --follow` (`?after=NEXT&wait=25`), stopped when the page is left.
import { api, nsPath, query, functionList } from "../api.js";
import { h, mount, fmt, card, button, notice, errorNotice, link, spinner } from "../dom.js";

const KEEP = 2000;   // lines kept on screen

export async function render(ctx) {
  const { root, signal, params, query: q } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", "Live logs")));
  let names = [];
  try {
    names = (await functionList({ signal })).map((f) => f.name).sort();
  } catch (err) {
    if (!signal.aborted) root.append(errorNotice(err, "the function list"));
    return;
  }
  const name = params[0] || names[0];
  if (!name) { root.append(notice("info", "No functions in this namespace yet.")); return; }
  const picker = h("select", { id: "logs-function", class: "input", "aria-label": "Function",
    onchange: (e) => { location.hash = "#/logs/" + encodeURIComponent(e.target.value); } },
  names.map((n) => h("option", { value: n, selected: n === name }, n)));
  if (!names.includes(name)) picker.prepend(h("option", { value: name, selected: true }, name));
  const requestId = h("input", { class: "input", placeholder: "request id (optional)", value: q.get("requestId") || "", "aria-label": "Request id" });
  const textFilter = h("input", { class: "input", type: "search", placeholder: "filter shown lines", "aria-label": "Filter lines" });
  let following = true, paused = false;
  const followBtn = button("Pause", () => { paused = !paused; followBtn.textContent = paused ? "Resume" : "Pause"; state.textContent = paused ? "paused" : "following"; state.className = paused ? "pill pill-paused" : "pill pill-running"; if (!paused) { show(pending); pending = []; } }, { kind: "ghost", testid: "logs-pause" });
  const state = h("span", { class: "pill pill-running", id: "logs-state" }, "following");
  const lines = h("div", { class: "logview", id: "logview", role: "log", "aria-live": "polite" });
  const dropped = h("div");
  let pending = [];

  root.append(card(null,
    h("div", { class: "form-row" },
      h("label", { class: "field" }, h("span", "Function"), picker),
      h("label", { class: "field" }, h("span", "Request"), requestId),
      h("label", { class: "field" }, h("span", "Filter"), textFilter),
      h("div", { class: "spacer" }), state, followBtn,
      button("Clear", () => lines.replaceChildren(), { kind: "ghost" })),
    dropped, lines));

  const matches = (l) => {
    const f = textFilter.value.toLowerCase();
    return !f || l.message.toLowerCase().includes(f);
  };
  function lineNode(l) {
    return h("div", { class: ["logline", l.stream === "stderr" && "stderr", l.stream === "swell" && "platform"], dataset: { id: String(l.id), request: l.requestId || "" }, hidden: !matches(l) },
      h("span", { class: "log-time" }, fmt.time(l.time).replace(" UTC", "").slice(11)),
      h("span", { class: "log-req", title: l.requestId || "" }, (l.requestId || "").slice(0, 8)),
      h("span", { class: "log-ver" }, l.version),
      h("span", { class: "log-msg" }, l.message));
  }
  function show(batch) {
    if (!batch.length) return;
    const atBottom = lines.scrollHeight - lines.scrollTop - lines.clientHeight < 40;
    const frag = document.createDocumentFragment();
    for (const l of batch) frag.append(lineNode(l));
    lines.append(frag);
    while (lines.childElementCount > KEEP) lines.firstElementChild.remove();
    if (atBottom) lines.scrollTop = lines.scrollHeight;
  }
  textFilter.addEventListener("input", () => {
    for (const el of lines.children) el.hidden = !el.querySelector(".log-msg").textContent.toLowerCase().includes(textFilter.value.toLowerCase());
  });
  requestId.addEventListener("change", () => {
    location.hash = "#/logs/" + encodeURIComponent(name) + (requestId.value.trim() ? "?requestId=" + encodeURIComponent(requestId.value.trim()) : "");
  });
  function showDrops(d) {
    if (!d) return;
    const lost = (d.rateLimitedLines || 0) + (d.queueFullLines || 0);
    mount(dropped, lost ? notice("warn", `${fmt.int(lost)} lines were not stored`, `(rate limit ${fmt.int(d.rateLimitedLines)}, queue full ${fmt.int(d.queueFullLines)}).`) : null);
  }

  const base = nsPath("functions", name, "logs");
  const filter = { requestId: q.get("requestId") || "" };
  let after = 0;
  try {
    const first = await api(base + query({ newest: "true", limit: 200, ...filter }), { signal });
    show(first.lines);
    showDrops(first.dropped);
    after = first.next;
  } catch (err) {
    if (!signal.aborted) mount(lines, errorNotice(err, "the logs"));
    return;
  }
  lines.dataset.ready = "true";
  // Follow until the page is left (signal aborts the pending request).
  (async () => {
    let failures = 0;
    while (!signal.aborted && following) {
      try {
        const page = await api(base + query({ after, limit: 1000, wait: 25, ...filter }), { signal });
        failures = 0;
        after = page.next;
        if (paused) pending.push(...page.lines); else { show(pending.concat(page.lines)); pending = []; }
        showDrops(page.dropped);
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        state.textContent = "reconnecting";
        state.className = "pill pill-failing";
        await new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** failures)));
        if (!paused) { state.textContent = "following"; state.className = "pill pill-running"; }
      }
    }
  })();
  return () => { following = false; };
}
