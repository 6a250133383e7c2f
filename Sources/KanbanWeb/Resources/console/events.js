// The Events page (#/events): the latest events from the log, then the live ones as they arrive.
import { api, query } from "./api.js";
import { h, replace } from "./dom.js";

const SHOWN = 200;

export function mount(main, ctx) {
  const list = h("ol", { class: "events", reversed: true, "aria-live": "off" });
  const status = h("p", { class: "muted", role: "status" }, "Loading…");
  replace(main, h("section", { class: "page" }, h("div", { class: "page-head" }, h("h1", {}, "Events"), status), list));
  const seen = new Set();
  const add = (event, atTop) => {
    if (event.seq != null && seen.has(event.seq)) return;
    if (event.seq != null) seen.add(event.seq);
    const row = eventRow(event);
    if (atTop) list.prepend(row); else list.append(row);
    while (list.children.length > SHOWN) list.lastElementChild.remove();
  };
  // Live events may arrive while the backlog loads: buffer them and add them after it.
  const early = [];
  let loaded = false;
  const unsubscribe = ctx.stream.subscribe((e) => { if (loaded) add(e, true); else early.push(e); });
  loadBacklog().then((events) => {
    for (const e of events.reverse()) add(e, false); // newest first
    status.textContent = `${events.length ? "The latest events, " : ""}live from the stream`;
  }, (err) => { status.textContent = `Could not load the event log: ${err.code}`; })
    .finally(() => { loaded = true; for (const e of early) add(e, true); });
  return { unmount() { unsubscribe(); } };
}

/** The last SHOWN events. The API pages forwards from a seq, so first ask where the log ends: a
 *  cursor past the end returns nothing and `last_seq` = the head (the wire's `events` says so). */
async function loadBacklog() {
  const head = await api(`api/events${query({ since: Number.MAX_SAFE_INTEGER, limit: 1 })}`);
  const since = Math.max(0, (head.last_seq ?? 0) - SHOWN);
  return (await api(`api/events${query({ since, limit: SHOWN })}`)).events ?? [];
}

function eventRow(e) {
  const data = e.data && typeof e.data === "object" && Object.keys(e.data).length ? JSON.stringify(e.data) : "";
  return h("li", { class: "event", dataset: { seq: e.seq ?? "", type: e.type } },
    h("span", { class: "mono muted seq" }, `#${e.seq ?? "?"}`),
    h("time", { class: "muted", datetime: e.at ? new Date(e.at).toISOString() : null }, e.at ? new Date(e.at).toLocaleTimeString() : ""),
    h("span", { class: `etype t-${e.type}` }, e.type),
    e.task_id ? h("a", { href: `#/tasks/${encodeURIComponent(e.task_id)}`, class: "mono" }, e.task_id) : null,
    e.lane ? h("span", { class: "lane-name" }, e.lane) : null,
    data ? h("code", { class: "data" }, data.length > 200 ? `${data.slice(0, 200)}…` : data) : null);
}
