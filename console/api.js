// The console's only door to the server: the /v1 API with the signed-in key as a bearer
// header. The key lives in sessionStorage (gone when the tab closes); no cookies.

const KEY = "swell.key";
const NS = "swell.namespace";

/** An API error: the HTTP status and the server's error body (`code`, `message`, `field`). */
export class ApiError extends Error {
  constructor(status, body, path) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || null;
    this.field = e.field || null;
    this.path = path;
  }
  get forbidden() { return this.status === 403; }
  get notFound() { return this.status === 404; }
}

export const session = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(v) { v ? sessionStorage.setItem(KEY, v) : sessionStorage.removeItem(KEY); },
  get namespace() { return sessionStorage.getItem(NS); },
  set namespace(v) { v ? sessionStorage.setItem(NS, v) : sessionStorage.removeItem(NS); },
  /** `{namespace, role, keyId}` of the key, set at sign-in. */
  identity: null,
  clear() { this.key = null; this.namespace = null; this.identity = null; },
};

let onUnauthorized = () => {};
/** Called when the server answers 401 (revoked or unknown key): the app signs out. */
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** Encodes one path segment (names come from the server but are never trusted). */
export const seg = (s) => encodeURIComponent(String(s));

/** The path of a namespace's resource: `ns("tasks")` → `/v1/namespaces/{ns}/tasks`. */
export function nsPath(...parts) {
  return `/v1/namespaces/${seg(session.namespace)}` + parts.map((p) => "/" + seg(p)).join("");
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

/**
 * One call. Answers the parsed JSON body (or null for 204); throws ApiError otherwise.
 * `raw: true` answers `{status, headers, text}` whatever the status.
 */
export async function api(path, { method = "GET", body, headers = {}, signal, raw = false, key } = {}) {
  const h = new Headers(headers);
  const k = key || session.key;
  if (k) h.set("Authorization", "Bearer " + k);
  if (body !== undefined && !h.has("Content-Type")) h.set("Content-Type", "application/json");
  const res = await fetch(path, {
    method, headers: h, signal, credentials: "omit", cache: "no-store",
    body: body === undefined ? undefined : (typeof body === "string" ? body : JSON.stringify(body)),
  });
  if (raw) return { status: res.status, headers: res.headers, text: await res.text() };
  const text = await res.text();
  let json = null;
  if (text) { try { json = JSON.parse(text); } catch { json = null; } }
  if (!res.ok) {
    const err = new ApiError(res.status, json, path);
    if (res.status === 401 && !key) onUnauthorized(err);
    throw err;
  }
  return json;
}

// The namespace's function list, shared by the pages that only need names (invoke, logs):
// read once, reused for 15 s; the functions page always reads it fresh and refreshes it.
let functionCache = { namespace: null, at: 0, functions: null };

/** The namespace's functions (`fresh`: ask the server even if a recent copy exists). */
export async function functionList({ signal, fresh = false } = {}) {
  const ns = session.namespace + "\n" + session.key;
  if (!fresh && functionCache.namespace === ns && functionCache.functions && Date.now() - functionCache.at < 15_000) {
    return functionCache.functions;
  }
  const functions = (await api(nsPath("functions"), { signal })).functions;
  functionCache = { namespace: ns, at: Date.now(), functions };
  return functions;
}
