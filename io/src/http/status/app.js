// rollcall's status page: reads the REST API every few seconds and redraws each table in
// place (replacing a table's body only when its rows changed, so nothing flickers). No
// framework, nothing from the network but this daemon.
"use strict";

const LIMIT = 200;
const REFRESH_MS = 3000;
const RESULTS = ["SUCCESS", "WARNINGS", "FAILURE", "SKIPPED", "EXCEPTION", "RETRY", "CANCELLED"];

async function get(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(path + ": HTTP " + response.status);
  return response.json();
}

function text(value) {
  return value === null || value === undefined ? "" : String(value);
}

// A moment the API gives (epoch seconds, or a date string) as "12 s ago".
function ago(value) {
  if (value === null || value === undefined) return "";
  const when = typeof value === "number" ? value * 1000 : Date.parse(value);
  if (Number.isNaN(when)) return text(value);
  const seconds = Math.max(0, Math.round((Date.now() - when) / 1000));
  if (seconds < 90) return seconds + " s ago";
  if (seconds < 5400) return Math.round(seconds / 60) + " min ago";
  if (seconds < 129600) return Math.round(seconds / 3600) + " h ago";
  return Math.round(seconds / 86400) + " d ago";
}

function cell(content, className) {
  const td = document.createElement("td");
  if (content instanceof Node) td.appendChild(content); else td.textContent = text(content);
  if (className) td.className = className;
  return td;
}

function pill(label, className) {
  const span = document.createElement("span");
  span.className = "pill " + className;
  span.textContent = label;
  return span;
}

function result(code) {
  if (code === null || code === undefined) return "";
  const name = RESULTS[code] || "result " + code;
  const className = code === 0 ? "ok" : code === 1 ? "warn" : code === 5 ? "retry" : "bad";
  return pill(name, className);
}

// Redraws `id`'s table with `headings` and `rows` (arrays of cells) when they changed.
function draw(id, headings, rows, total) {
  const holder = document.getElementById(id);
  const key = JSON.stringify(rows.map((row) => row.map((c) => (c instanceof Node ? c.outerHTML : text(c))))) + total;
  if (holder.dataset.key === key) return;
  holder.dataset.key = key;
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const heading of headings) {
    const th = document.createElement("th");
    th.textContent = heading;
    head.appendChild(th);
  }
  const body = table.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    tr.dataset.name = text(row[0] instanceof Node ? row[0].textContent : row[0]);
    for (const content of row) tr.appendChild(cell(content));
  }
  const parts = [table];
  if (rows.length === 0) {
    const none = document.createElement("p");
    none.className = "more";
    none.textContent = "none";
    parts.push(none);
  } else if (total > rows.length) {
    const more = document.createElement("p");
    more.className = "more";
    more.textContent = "showing " + rows.length + " of " + total;
    parts.push(more);
  }
  holder.replaceChildren(...parts);
}

function summary(cards) {
  const holder = document.getElementById("summary");
  const key = JSON.stringify(cards);
  if (holder.dataset.key === key) return;
  holder.dataset.key = key;
  holder.replaceChildren(...cards.map(([label, value, detail]) => {
    const card = document.createElement("div");
    card.className = "card";
    const number = document.createElement("b");
    number.textContent = value;
    card.append(number, label);
    if (detail) {
      const small = document.createElement("div");
      small.className = "muted";
      small.textContent = detail;
      card.appendChild(small);
    }
    return card;
  }));
}

async function refresh() {
  const query = "?limit=" + LIMIT;
  // The counts come from the server's totals (filtered, no rows), so they hold however
  // many rows there are beyond the tables' first 200.
  const total = (path) => get(path + (path.includes("?") ? "&" : "?") + "limit=0").then((b) => b.meta.total);
  const [masters, workers, builders, requests, builds, health, active, waiting, running] =
    await Promise.all([
      get("/api/v2/masters" + query), get("/api/v2/workers" + query),
      get("/api/v2/builders" + query), get("/api/v2/buildrequests" + query + "&order=-buildrequestid"),
      get("/api/v2/builds" + query + "&order=-buildid"), get("/healthz"),
      total("/api/v2/masters?active=true"),
      total("/api/v2/buildrequests?claimed=false&complete=false"),
      total("/api/v2/builds?complete=false"),
    ]);
  const masterName = new Map(masters.masters.map((m) => [m.masterid, m.name]));
  const builderName = new Map(builders.builders.map((b) => [b.builderid, b.name]));
  const workerName = new Map(workers.workers.map((w) => [w.workerid, w.name]));
  const nameOf = (map, id) => (id === null || id === undefined ? "" : map.get(id) || "#" + id);
  const servedBy = new Map();
  for (const builder of builders.builders) {
    for (const id of builder.masterids) {
      servedBy.set(id, (servedBy.get(id) || []).concat(builder.name));
    }
  }

  summary([
    ["masters active", active, (masters.meta.total - active) + " inactive"],
    ["workers connected here", health.workers_connected, workers.meta.total + " known"],
    ["builders", builders.meta.total, ""],
    ["build requests waiting", waiting, requests.meta.total + " in all"],
    ["builds running", running, builds.meta.total + " in all"],
  ]);

  draw("masters", ["name", "state", "last active", "builders"], masters.masters.map((m) => [
    m.name, m.active ? pill("active", "ok") : pill("inactive", "bad"), ago(m.last_active),
    (servedBy.get(m.masterid) || []).join(", "),
  ]), masters.meta.total);

  draw("workers", ["name", "state", "connected to", "configured on", "info"], workers.workers.map((w) => [
    w.name,
    w.connected_to.length > 0 ? pill("connected", "ok") : pill("missing", "bad"),
    w.connected_to.map((c) => nameOf(masterName, c.masterid)).join(", "),
    w.configured_on.map((c) => nameOf(masterName, c.masterid)).join(", "),
    Object.entries(w.workerinfo || {}).map(([k, v]) => k + ": " + text(v)).join("; "),
  ]), workers.meta.total);

  draw("builders", ["name", "served by"], builders.builders.map((b) => [
    b.name, b.masterids.map((id) => nameOf(masterName, id)).join(", "),
  ]), builders.meta.total);

  draw("buildrequests", ["#", "builder", "state", "claimed by", "submitted", "result"],
    requests.buildrequests.map((r) => [
      r.buildrequestid, nameOf(builderName, r.builderid),
      r.complete ? pill("finished", "muted") : r.claimed ? pill("claimed", "warn") : pill("waiting", "bad"),
      nameOf(masterName, r.claimed_by_masterid), ago(r.submitted_at), result(r.results),
    ]), requests.meta.total);

  draw("builds", ["#", "builder", "worker", "master", "state", "started", "result"],
    builds.builds.map((b) => [
      b.buildid, nameOf(builderName, b.builderid), nameOf(workerName, b.workerid),
      nameOf(masterName, b.masterid),
      b.complete ? pill("finished", "muted") : pill("running", "warn"), ago(b.started_at), result(b.results),
    ]), builds.meta.total);

  const node = document.getElementById("node");
  node.textContent = "master " + text(health.master || "");
  if (health.cluster) {
    const cluster = await get("/api/v2/cluster");
    const rows = cluster.cluster.map((c) => [c.node, c.role === "leader" ? pill("leader", "ok") : pill(c.role, "muted"),
      c.epoch, text(c.leader), text(c.leader_address), c.lag_entries]);
    document.getElementById("cluster-section").hidden = false;
    draw("cluster", ["node", "role", "epoch", "leader", "leader's address", "lag (entries)"], rows, rows.length);
  }
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  document.body.dataset.loaded = "true";
}

async function loop() {
  try {
    await refresh();
  } catch (error) {
    document.getElementById("updated").textContent = "cannot reach the daemon: " + error.message;
  }
  setTimeout(loop, REFRESH_MS);
}

loop();
