// The one way this page talks to the server. The session lives in an HttpOnly cookie the page
// cannot read; the CSRF token from the login/session reply is kept in this module's memory only
// (not localStorage, not the URL) and sent as X-CSRF-Token on every state change.
let csrf = null;
let unauthorized = () => {};

/** A refused request: the HTTP status and the server's error code (a wire code or an HTTP one). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

export function setCsrf(token) { csrf = token ?? null; }

/** Called when a request answers 401 after login: the session expired or was dropped. */
export function onUnauthorized(handler) { unauthorized = handler; }

/** GET (default) or POST a JSON body; resolves with the parsed reply, rejects with ApiError. */
export async function api(path, { method = "GET", body, quiet401 = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = csrf ?? "";
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    // Relative paths: the console works wherever it is mounted (at / by default).
    res = await fetch(path.replace(/^\//, ""), {
      method, headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", `the console's server did not answer (${err.message})`);
  }
  const data = await res.json().catch(() => null);
  if (res.ok) return data;
  const code = data?.error?.code ?? `http_${res.status}`;
  const error = new ApiError(res.status, code, data?.error?.message ?? res.statusText);
  if (res.status === 401 && !quiet401) unauthorized(error);
  throw error;
}

/** Builds a query string from the non-empty values of `params`. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
