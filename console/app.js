// The console shell: sign-in, the namespace picker, navigation and the hash router.
// Each page module exports `render(ctx)`; ctx.signal is aborted when the page is left.
import { api, session, setUnauthorizedHandler, ApiError } from "./api.js";
import { h, mount, notice, button } from "./dom.js";
import * as functions from "./pages/functions.js";
import * as invoke from "./pages/invoke.js";
import * as logs from "./pages/logs.js";
import * as instances from "./pages/instances.js";
import * as tasks from "./pages/tasks.js";
import * as usage from "./pages/usage.js";
import * as audit from "./pages/audit.js";
import * as workflows from "./pages/workflows.js";

const PAGES = [
  { id: "functions", label: "Functions", module: functions },
  { id: "invoke", label: "Invoke", module: invoke },
  { id: "logs", label: "Logs", module: logs },
  { id: "instances", label: "Instances", module: instances },
  { id: "tasks", label: "Tasks", module: tasks },
  { id: "workflows", label: "Workflows", module: workflows },
  { id: "usage", label: "Usage & cost", module: usage },
  { id: "audit", label: "Audit log", module: audit },
];

const root = document.getElementById("app");
let current = null;      // {controller, cleanup}
let namespaces = [];

setUnauthorizedHandler(() => { signOut("Your key is no longer valid (revoked or unknown). Sign in again."); });

function signOut(message) {
  if (current) { current.controller.abort(); current = null; }
  session.clear();
  history.replaceState(null, "", "#/signin");
  renderSignIn(message);
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const [path, qs] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean).map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { parts, query: new URLSearchParams(qs || "") };
}

// ---- sign-in ----

function renderSignIn(message) {
  const input = h("input", { type: "password", id: "key", name: "key", autocomplete: "off", spellcheck: "false",
    placeholder: "swk_…", required: true, "aria-label": "API key" });
  const error = h("div", { class: "signin-error", role: "alert" }, message || "");
  const form = h("form", { class: "signin-card", id: "signin", novalidate: true },
    h("div", { class: "brand big" }, h("img", { src: "logo.svg", alt: "", width: "36", height: "36" }), h("span", "Swell")),
    h("p", { class: "muted" }, "Sign in with an API key. It is kept in this tab's session storage and sent as a bearer header; closing the tab forgets it."),
    h("label", { for: "key" }, "API key"), input, error,
    h("button", { type: "submit", class: "btn btn-primary wide" }, "Sign in"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) { error.textContent = "Enter a key."; return; }
    error.textContent = "";
    try {
      const who = await api("/v1/whoami", { key });
      session.key = key;
      session.identity = who;
      session.namespace = who.namespace;
      history.replaceState(null, "", "#/functions");
      await boot();
    } catch (err) {
      error.textContent = err instanceof ApiError && err.status === 401 ? "This key is unknown or revoked." : `Cannot sign in: ${err.message}`;
    }
  });
  mount(root, h("div", { class: "signin" }, form));
  input.focus();
}

// ---- shell ----

function shell() {
  const who = session.identity;
  const select = h("select", { id: "namespace", "aria-label": "Namespace", onchange: (e) => { session.namespace = e.target.value; route(); } },
    namespaces.map((n) => h("option", { value: n, selected: n === session.namespace }, n)));
  const nav = h("nav", { class: "side", "aria-label": "Pages" },
    PAGES.map((p) => h("a", { href: "#/" + p.id, "data-page": p.id, class: "nav-link" }, p.label)));
  const top = h("header", { class: "top" },
    h("a", { class: "brand", href: "#/functions" }, h("img", { src: "logo.svg", alt: "", width: "24", height: "24" }), h("span", "Swell")),
    h("label", { class: "ns" }, h("span", { class: "muted" }, "Namespace"), select),
    h("div", { class: "spacer" }),
    h("span", { class: "whoami", "data-testid": "whoami" }, h("span", { class: "muted" }, "key "), who.keyId, " · ", who.role, " · ", who.namespace),
    button("Sign out", () => signOut(), { kind: "ghost", testid: "signout" }));
  const view = h("main", { id: "view", class: "view", tabindex: "-1" });
  mount(root, top, h("div", { class: "body" }, nav, view));
}

async function boot() {
  if (!session.key) { renderSignIn(); return; }
  // Both at once: the identity, and the namespaces the key may open.
  const listed = api("/v1/namespaces").then((r) => r.namespaces, () => null);
  try {
    session.identity = await api("/v1/whoami");
  } catch (err) {
    session.clear();
    renderSignIn(err.status === 401 ? "Your key is no longer valid." : `Cannot reach the server: ${err.message}`);
    return;
  }
  namespaces = (await listed) || [session.identity.namespace];
  if (!namespaces.includes(session.namespace)) session.namespace = namespaces.includes(session.identity.namespace) ? session.identity.namespace : namespaces[0];
  shell();
  route();
}

async function route() {
  const { parts, query } = parseHash();
  if (!session.key || !session.identity) {
    if (parts[0] !== "signin") history.replaceState(null, "", "#/signin");
    if (!document.getElementById("signin")) renderSignIn();
    return;
  }
  if (parts[0] === "signin" || parts.length === 0) { location.replace("#/functions"); return; }
  const view = document.getElementById("view");
  if (!view) { shell(); return route(); }
  if (current) { current.controller.abort(); try { current.cleanup && current.cleanup(); } catch { /* ignore */ } }
  const page = PAGES.find((p) => p.id === parts[0]);
  for (const a of document.querySelectorAll(".nav-link")) a.classList.toggle("active", a.dataset.page === parts[0]);
  const controller = new AbortController();
  current = { controller, cleanup: null };
  const nsSelect = document.getElementById("namespace");
  if (nsSelect && nsSelect.value !== session.namespace) nsSelect.value = session.namespace;
  if (!page) { mount(view, notice("warn", "No such page.", parts.join("/"))); return; }
  document.title = `${page.label} · ${session.namespace} · Swell`;
  view.replaceChildren();
  view.dataset.page = page.id;
  view.dataset.ready = "false";
  try {
    const cleanup = await page.module.render({ root: view, params: parts.slice(1), query, signal: controller.signal, identity: session.identity, namespace: session.namespace });
    if (current && current.controller === controller) current.cleanup = cleanup;
  } catch (err) {
    if (err.name === "AbortError" || controller.signal.aborted) return;
    mount(view, notice("error", "This page failed.", err.message));
  }
  if (!controller.signal.aborted) view.dataset.ready = "true";
}

window.addEventListener("hashchange", () => route());
boot();
