// Invoke: pick a function, edit the JSON event, run it synchronously (with the log tail) or
// enqueue it as a task; shows the status, every response header, the body and the logs.
import { api, nsPath, query, functionList } from "../api.js";
import { h, mount, fmt, table, card, button, pre, notice, errorNotice, link, route, spinner } from "../dom.js";

const SAMPLE = '{\n  "name": "world"\n}';

function decodeBase64UTF8(b64) {
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch { return null; }
}

export async function render(ctx) {
  const { root, signal, params } = ctx;
  let fnName = params[0] || "";
  root.append(h("div", { class: "page-head" }, h("h1", "Invoke")));
  let names = [];
  try {
    names = (await functionList({ signal })).map((f) => f.name).sort();
  } catch (err) {
    if (signal.aborted) return;
    root.append(errorNotice(err, "the function list"));
    return;
  }
  if (!fnName && names.length) fnName = names[0];
  const fn = h("input", { id: "invoke-function", list: "invoke-functions", value: fnName, "aria-label": "Function", class: "input" });
  const dl = h("datalist", { id: "invoke-functions" }, names.slice(0, 2000).map((n) => h("option", { value: n })));
  const qualifier = h("input", { id: "invoke-qualifier", placeholder: "$LATEST", class: "input short", "aria-label": "Qualifier" });
  const mode = h("select", { id: "invoke-mode", class: "input", "aria-label": "Mode" },
    h("option", { value: "sync" }, "Synchronous"), h("option", { value: "async" }, "Async task"));
  const payload = h("textarea", { id: "payload", class: "editor", spellcheck: "false", rows: "14", "aria-label": "Payload (JSON)" });
  payload.value = sessionStorage.getItem("swell.payload." + fnName) || SAMPLE;
  const status = h("div", { class: "editor-status muted" });
  const out = h("div", { id: "invoke-result" });

  function check() {
    try {
      if (payload.value.trim()) JSON.parse(payload.value);
      status.textContent = "Valid JSON";
      status.className = "editor-status ok-text";
      return true;
    } catch (e) {
      status.textContent = e.message;
      status.className = "editor-status error-text";
      return false;
    }
  }
  payload.addEventListener("input", check);
  payload.addEventListener("keydown", (e) => {
    if (e.key === "Tab") {   // indent instead of leaving the editor
      e.preventDefault();
      const { selectionStart: a, selectionEnd: b } = payload;
      payload.setRangeText("  ", a, b, "end");
    } else if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      run();
    }
  });
  check();

  const runBtn = button("Invoke", () => run(), { kind: "primary", testid: "invoke-run" });
  async function run() {
    const name = fn.value.trim();
    if (!name) { mount(out, notice("warn", "Pick a function.")); return; }
    if (!check()) { mount(out, notice("error", "The payload is not valid JSON.", status.textContent)); return; }
    sessionStorage.setItem("swell.payload." + name, payload.value);
    runBtn.disabled = true;
    mount(out, spinner());
    const started = performance.now();
    try {
      const q = { qualifier: qualifier.value.trim(), mode: mode.value === "async" ? "async" : "" };
      const res = await api(nsPath("functions", name, "invoke") + query(q), {
        method: "POST", body: payload.value.trim() || "{}", raw: true, signal,
        headers: mode.value === "sync" ? { "X-Swell-Log-Type": "Tail" } : {},
      });
      showResult(name, res, performance.now() - started);
    } catch (err) {
      if (!signal.aborted) mount(out, errorNotice(err, "the invocation"));
    } finally {
      runBtn.disabled = false;
    }
  }

  function showResult(name, res, elapsed) {
    let body = res.text, parsed = null;
    try { parsed = JSON.parse(res.text); body = JSON.stringify(parsed, null, 2); } catch { /* not JSON */ }
    const fnError = res.headers.get("X-Swell-Function-Error");
    const headers = [...res.headers.entries()].sort(([a], [b]) => a.localeCompare(b));
    const logResult = res.headers.get("X-Swell-Log-Result");
    const tail = logResult ? decodeBase64UTF8(logResult) : null;
    let verdict;
    if (res.status >= 400) verdict = h("span", { class: "verdict bad" }, `HTTP ${res.status} · ${(parsed && parsed.error && parsed.error.code) || "error"}`);
    else if (fnError) verdict = h("span", { class: "verdict bad" }, `Function error (${fnError})`);
    else if (res.status === 202) verdict = h("span", { class: "verdict ok" }, "Queued as a task");
    else verdict = h("span", { class: "verdict ok" }, "Succeeded");
    const taskId = res.headers.get("X-Swell-Task-Id") || (parsed && parsed.taskId);
    mount(out,
      card(null,
        h("div", { class: "result-head" }, verdict,
          h("span", { class: "muted" }, ` HTTP ${res.status} · ${fmt.ms(elapsed)} round trip`),
          res.headers.get("X-Swell-Duration-Ms") ? h("span", { class: "muted" }, ` · ran ${res.headers.get("X-Swell-Duration-Ms")} ms, billed ${res.headers.get("X-Swell-Billed-Duration-Ms")} ms`) : null,
          res.headers.get("X-Swell-Cold-Start") === "true" ? h("span", { class: "pill pill-info" }, "cold start") : null,
          taskId ? link(["tasks", taskId], "Open task →", { class: "btn" }) : null),
        h("div", { class: "grid-2" },
          h("div", h("h3", "Response body"), pre(body, "response-body")),
          h("div", h("h3", "Response headers"), table([
            { label: "Header", cell: (r) => h("code", r[0]) }, { label: "Value", class: "wrap", cell: (r) => h("code", r[1]) },
          ], headers))),
        tail !== null ? h("div", h("h3", "Log tail"), pre(tail || "(no output)", "log-tail")) : null));
  }

  root.append(
    card(null,
      h("div", { class: "form-row" },
        h("label", { class: "field" }, h("span", "Function"), fn, dl),
        h("label", { class: "field" }, h("span", "Version or alias"), qualifier),
        h("label", { class: "field" }, h("span", "Mode"), mode),
        h("div", { class: "spacer" }),
        button("Format", () => { if (check()) payload.value = JSON.stringify(JSON.parse(payload.value || "{}"), null, 2); }, { kind: "ghost" }),
        runBtn),
      h("label", { class: "field block" }, h("span", "Event (JSON) · Ctrl+Enter to invoke"), payload), status),
    out);
}
