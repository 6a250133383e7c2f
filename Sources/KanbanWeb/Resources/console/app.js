// The console's entry point: session, hash routing, the header, the one event stream. Each page is
// a module with mount(main, ctx, params, id) -> {unmount()}; ctx is what pages share.
import { api, onUnauthorized, setCsrf } from "./api.js";
import { Stream } from "./stream.js";
import * as login from "./login.js";
import * as lanes from "./lanes.js";
import * as tasks from "./tasks.js";
import * as task from "./task.js";
import * as events from "./events.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const live = document.getElementById("live");
const logout = document.getElementById("logout");

let session = null;   // {role, lane, csrf}: in memory only
let stream = null;
let view = null;
let laneNames = [];

const ctx = {
  get stream() { return stream; },
  get isAdmin() { return session?.role === "admin"; },
  laneNames: () => laneNames,
  setLaneNames: (names) => { laneNames = names; },
};

function route() {
  if (!session) return;
  view?.unmount();
  view = null;
  const [path, qs] = location.hash.replace(/^#/, "").split("?");
  const params = new URLSearchParams(qs ?? "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  let current = "lanes";
  if (parts.length === 0) view = lanes.mount(main, ctx, params);
  else if (parts[0] === "tasks" && parts.length === 1) { current = "tasks"; view = tasks.mount(main, ctx, params); }
  else if (parts[0] === "tasks" && parts.length === 2) { current = "tasks"; view = task.mount(main, ctx, params, parts[1]); }
  else if (parts[0] === "events") { current = "events"; view = events.mount(main, ctx, params); }
  else { location.hash = "#/"; return; }
  for (const a of nav.querySelectorAll("a")) {
    if (a.dataset.page === current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
}

function loggedIn(reply) {
  session = reply;
  setCsrf(reply.csrf);
  document.body.dataset.role = reply.role;
  who.textContent = reply.role === "admin" ? "admin" : `lane ${reply.lane ?? ""} · read-only`;
  nav.hidden = false;
  logout.hidden = false;
  stream = new Stream();
  stream.onState((state) => {
    live.textContent = { live: "● live", reconnecting: "reconnecting…", closed: "disconnected", connecting: "connecting…" }[state] ?? state;
    live.dataset.state = state;
    // The browser stops retrying on a non-200 answer; if that was a 401, go back to the login.
    if (state === "closed") api("api/session").catch(() => {});
  });
  stream.open();
  if (!laneNames.length) api("api/lanes").then((r) => { laneNames = r.lanes.map((l) => l.name); }, () => {});
  route();
}

function showLogin() {
  session = null;
  setCsrf(null);
  stream?.close();
  stream = null;
  view?.unmount();
  view = null;
  delete document.body.dataset.role;
  nav.hidden = true;
  logout.hidden = true;
  who.textContent = "";
  live.textContent = "";
  login.mount(main, loggedIn);
}

onUnauthorized(() => { if (session) showLogin(); });
logout.addEventListener("click", async () => {
  await api("api/logout", { method: "POST", body: {} }).catch(() => {});
  showLogin();
});
window.addEventListener("hashchange", route);

api("api/session", { quiet401: true }).then(loggedIn, showLogin);
