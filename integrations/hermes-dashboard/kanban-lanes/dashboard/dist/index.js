// The Lanes tab in Hermes' dashboard. Plain JS against the plugin SDK Hermes puts on window
// (React and its components), no build step. It reads /api/plugins/kanban-lanes/lanes, which
// plugin_api.py answers by asking the bridge, so this page never sees the bridge's token.
(function () {
  "use strict";
  const SDK = window.__HERMES_PLUGIN_SDK__;
  if (!SDK || !window.__HERMES_PLUGINS__) return;
  const React = SDK.React;
  const { useState, useEffect } = SDK.hooks;
  const C = SDK.components;
  const e = React.createElement;

  // Refreshed every few seconds while the tab is visible. (The bridge's own console updates from
  // its event stream; here each refresh is one request through Hermes' Python, and a held-open
  // stream per browser tab would tie up one of its worker threads.)
  const REFRESH_MS = 3000;
  const ENDPOINT = "/api/plugins/kanban-lanes/lanes";
  const STUCK = {
    lease_expiring: "lease running out, no heartbeat",
    over_runtime: "past its runtime limit",
    unclaimable: "no lane can take it",
  };

  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    if (s < 60) return s + "s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + "m " + String(s % 60).padStart(2, "0") + "s";
    const h = Math.floor(m / 60);
    return h < 48 ? h + "h " + String(m % 60).padStart(2, "0") + "m" : Math.floor(h / 24) + "d " + (h % 24) + "h";
  }
  const parked = (p) => (Array.isArray(p) ? p.length : Number(p || 0));

  function useLanes() {
    const [state, setState] = useState({ data: null, error: null });
    useEffect(function () {
      let alive = true;
      let timer = null;
      async function load() {
        if (document.hidden) { timer = setTimeout(load, REFRESH_MS); return; }
        try {
          const data = await SDK.fetchJSON(ENDPOINT);
          if (alive) setState({ data: data, error: null });
        } catch (err) {
          if (alive) setState((s) => ({ data: s.data, error: String((err && err.message) || err) }));
        }
        if (alive) timer = setTimeout(load, REFRESH_MS);
      }
      load();
      return function () { alive = false; clearTimeout(timer); };
    }, []);
    return state;
  }

  function Caps(props) {
    const caps = props.caps;
    if (!caps) return null;
    const running = props.lanes.reduce((n, l) => n + l.running, 0);
    const busiest = props.lanes.reduce((n, l) => Math.max(n, l.running), 0);
    const items = [];
    if (caps.max_in_progress != null) items.push(e("li", { key: "mip" }, "max_in_progress ", e("strong", null, caps.max_in_progress), " · lanes hold " + running + " running"));
    if (caps.max_in_progress_per_profile != null) items.push(e("li", { key: "pp" }, "max_in_progress_per_profile ", e("strong", null, caps.max_in_progress_per_profile), " · busiest lane " + busiest));
    if (caps.max_spawn != null) items.push(e("li", { key: "ms" }, "max_spawn ", e("strong", null, caps.max_spawn)));
    return e("div", { className: "kbl-caps" }, e("span", { className: "kbl-caps-title" }, "Hermes' dispatcher caps"),
      e("ul", null, items.length ? items : e("li", null, "none set")));
  }

  function LaneRow(props) {
    const l = props.lane, now = props.now;
    const oldest = l.oldest_queued_at != null ? duration(now - l.oldest_queued_at * 1000) : "—";
    const stuck = (l.stuck || []).map((f, i) => e("div", { key: i, className: "kbl-flag", "data-kind": f.kind },
      (STUCK[f.kind] || f.kind) + (f.task_id ? " · " + f.task_id : "")));
    const claims = l.claims.map((c) => e("div", { key: c.task_id, className: "kbl-claim" },
      c.task_id + " · lease " + duration(c.lease_expires_at_ms - now) + " left"));
    return e("tr", { "data-lane": l.name },
      e("th", { scope: "row" }, l.name),
      e("td", null, l.kind),
      e("td", { className: "kbl-running" }, l.running + "/" + l.max_concurrency + " running"),
      e("td", { className: "kbl-queued" }, String(l.queued)),
      e("td", null, oldest),
      e("td", { className: "kbl-parked" }, String(parked(l.parked))),
      e("td", null, claims.length ? claims : "—"),
      e("td", null, stuck.length ? stuck : "—"));
  }

  function LanesPage() {
    const { data, error } = useLanes();
    const Card = C.Card, CardHeader = C.CardHeader, CardTitle = C.CardTitle, CardContent = C.CardContent;
    let body;
    if (!data) {
      body = e("p", { className: "kbl-muted", role: "status" }, error ? "Cannot reach the bridge: " + error : "Loading lanes…");
    } else {
      const now = data.now_ms || Date.now();
      body = e("div", null,
        error ? e("p", { className: "kbl-error", role: "alert" }, "Last refresh failed: " + error) : null,
        e(Caps, { caps: data.hermes_caps, lanes: data.lanes }),
        e("div", { className: "kbl-scroll" }, e("table", { className: "kbl-table" },
          e("thead", null, e("tr", null, ["Lane", "Kind", "Running", "Queued", "Oldest wait", "Parked", "Claims", "Stuck"]
            .map((h) => e("th", { key: h, scope: "col" }, h)))),
          e("tbody", null, data.lanes.map((l) => e(LaneRow, { key: l.name, lane: l, now: now }))))),
        (data.unregistered || []).length ? e("p", { className: "kbl-muted" }, "Ready work no lane serves: " +
          data.unregistered.map((u) => u.assignee + " (" + u.queued + ")").join(", ")) : null);
    }
    return e("div", { className: "kbl-page" }, e(Card, null,
      e(CardHeader, null, e(CardTitle, null, "KanbanBridge lanes")),
      e(CardContent, null, body)));
  }

  window.__HERMES_PLUGINS__.register("kanban-lanes", LanesPage);
})();
