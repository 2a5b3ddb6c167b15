// The dashboard UI: one page, hash routes, plain DOM. Data comes from the JSON API (/api/...); lists refresh by
// polling, console logs stream over Server-Sent Events.
"use strict";

const page = document.getElementById("page");
const state = { timers: [], sources: [], info: null };

// ---------- helpers ----------
const esc = (value) => String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

async function api(path, options) {
  const response = await fetch(path, { headers: { Accept: "application/json" }, ...options });
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  return response.status === 204 ? null : response.json();
}

function every(ms, fn) {
  fn();
  state.timers.push(setInterval(fn, ms));
}

function stopPage() {
  state.timers.forEach(clearInterval);
  state.sources.forEach((s) => s.close());
  state.timers = [];
  state.sources = [];
}

const pad = (n, w = 2) => String(n).padStart(w, "0");
function clock(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function ms(value) {
  if (value == null) return "";
  const trim = (n, digits) => Number(n.toFixed(digits)).toString();
  if (value === 0) return "0ms";
  if (value < 1) return `${trim(value * 1000, 0)}μs`;
  if (value < 1000) return `${trim(value, value < 10 ? 2 : value < 100 ? 1 : 0)}ms`;
  return `${trim(value / 1000, value < 10000 ? 2 : 1)}s`;
}

function since(iso) {
  if (!iso) return "";
  let s = Math.max(0, Math.floor((Date.now() - new Date(iso).getTime()) / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

const number = (n) => (n == null ? "" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 2 }));
const compact = (n) => Number(n).toLocaleString("en-US", { notation: "compact", maximumFractionDigits: 2 });

// A stable colour per resource name, so a service looks the same on every page; the chat services get their own.
const knownColours = { gateway: "#5c8dff", rest: "#e3823b", streaming: "#d2b32a", sse: "#4fb3ff", websocket: "#b87bff",
  grpc: "#e35b9b", llm: "#2bb6a8", redis: "#ef6f6c" };
function colour(name) {
  const base = String(name ?? "").replace(/-\d+$/, "");
  if (knownColours[base]) return knownColours[base];
  let hash = 0;
  for (const c of base) hash = (hash * 31 + c.charCodeAt(0)) | 0;
  const palette = ["#8b7bff", "#4fb3ff", "#3fb950", "#e3823b", "#e35b9b", "#2bb6a8", "#d2b32a", "#b87bff", "#5c8dff", "#ef6f6c"];
  return palette[Math.abs(hash) % palette.length];
}

const chip = (name) => `<span class="chip"><i style="background:${colour(name)}"></i>${esc(name)}</span>`;

function stateBadge(value) {
  const kind = { Running: "ok", Healthy: "ok", Starting: "warn", Waiting: "idle", Restarting: "warn", Unhealthy: "err",
    Exited: "err", FailedToStart: "err", Stopped: "idle" }[value] ?? "idle";
  return `<span class="badge ${kind}">${esc(value ?? "Unknown")}</span>`;
}

function levelBadge(level) {
  const kind = { Critical: "err", Error: "err", Warning: "warn", Information: "info", Debug: "idle", Trace: "idle" }[level] ?? "idle";
  return `<span class="badge plain ${kind}">${esc(level)}</span>`;
}

function kv(map) {
  const entries = Object.entries(map ?? {});
  if (!entries.length) return `<div class="faint">none</div>`;
  return `<dl class="kv">${entries.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("")}</dl>`;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null && v !== false) q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}

function routeParams() {
  const [path, search] = location.hash.slice(1).split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search ?? "") };
}

async function resourceOptions(selected, includeAll = true) {
  const resources = await api("/api/telemetry/resources").catch(() => []);
  const names = [...new Set(resources.flatMap((r) => (r.instanceId ? [r.serviceName, r.name] : [r.serviceName])))].sort();
  return (includeAll ? `<option value="">All resources</option>` : "") +
    names.map((n) => `<option value="${esc(n)}" ${n === selected ? "selected" : ""}>${esc(n)}</option>`).join("");
}

// ---------- telemetry counts in the top bar ----------
async function refreshStats() {
  const el = document.getElementById("telemetry-stats");
  try {
    const s = await api("/api/telemetry/stats");
    const dropped = s.droppedSpans + s.droppedLogs + s.droppedMetricPoints;
    el.innerHTML = `${number(s.traces)} traces · ${number(s.spans)} spans · ${number(s.logs)} logs · ${number(s.metricPoints)} points` +
      (dropped ? ` · <span class="dropped" id="dropped-count" title="Dropped (oldest first) at the caps ${number(s.maxSpans)} spans / ${number(s.maxLogs)} logs / ${number(s.maxMetricPoints)} points">dropped ${number(s.droppedSpans)} spans, ${number(s.droppedLogs)} logs, ${number(s.droppedMetricPoints)} points</span>` : "");
  } catch {
    el.textContent = "";
  }
}

// ---------- Resources ----------
function renderResources() {
  page.innerHTML = `
    <div class="page-header"><h1>Resources</h1><span class="sub" id="resource-count"></span></div>
    <div class="toolbar"><input type="search" id="resource-filter" placeholder="Filter by name…" aria-label="Filter resources"></div>
    <div class="panel"><table class="grid" id="resources-table">
      <thead><tr><th>Name</th><th>Type</th><th>State</th><th>Health</th><th>Uptime</th><th class="num">Restarts</th><th class="num">PID</th><th>Endpoints</th><th>Actions</th></tr></thead>
      <tbody></tbody></table></div>`;
  const tbody = page.querySelector("tbody");
  const filter = page.querySelector("#resource-filter");
  const expanded = new Set();
  let last = [];

  const draw = () => {
    const text = filter.value.trim().toLowerCase();
    const rows = last.filter((r) => !text || r.name.toLowerCase().includes(text) || r.resource.toLowerCase().includes(text));
    page.querySelector("#resource-count").textContent = `${last.length} replicas of ${new Set(last.map((r) => r.resource)).size} resources`;
    if (!rows.length) {
      tbody.innerHTML = `<tr><td colspan="9" class="empty">${last.length ? "No resource matches the filter." : "No resources yet."}</td></tr>`;
      return;
    }
    tbody.innerHTML = rows.map((r) => {
      const running = ["Running", "Unhealthy", "Starting"].includes(r.state);
      const row = `<tr class="clickable" data-name="${esc(r.name)}">
        <td>${chip(r.name)}${r.name !== r.resource ? `<span class="faint">${esc(r.resource)}</span>` : ""}</td>
        <td class="muted">${esc(r.type)}</td>
        <td class="state">${stateBadge(r.state)}${r.exitCode != null && !running ? ` <span class="faint">exit ${esc(r.exitCode)}</span>` : ""}</td>
        <td>${r.health ? stateBadge(r.health) : `<span class="faint">—</span>`}</td>
        <td class="num" title="${esc(r.startedAt ?? "")}">${running ? since(r.startedAt) : ""}</td>
        <td class="num">${r.restartCount || ""}</td>
        <td class="num mono">${r.processId ?? ""}</td>
        <td class="endpoints">${(r.endpoints ?? []).map((e) => `<a href="${esc(e.url)}" target="_blank" rel="noopener" title="${esc(e.name)}">${esc(e.url)}</a>`).join("")}</td>
        <td><div class="actions">
          <a class="btn-link" href="#/console/${encodeURIComponent(r.name)}">Console</a>
          <button class="btn small" data-command="restart" data-name="${esc(r.name)}">Restart</button>
          ${running ? `<button class="btn small danger" data-command="stop" data-name="${esc(r.name)}">Stop</button>`
                    : `<button class="btn small" data-command="start" data-name="${esc(r.name)}">Start</button>`}
        </div></td></tr>`;
      const details = expanded.has(r.name)
        ? `<tr class="details"><td colspan="9"><div class="section-title">Environment</div>${kv(r.environment)}</td></tr>` : "";
      return row + details;
    }).join("");
  };

  tbody.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-command]");
    if (button) {
      event.stopPropagation();
      button.disabled = true;
      try {
        await api(`/api/resources/${encodeURIComponent(button.dataset.name)}/commands/${button.dataset.command}`, { method: "POST" });
      } catch (error) {
        alert(`${button.dataset.command} failed: ${error.message}`);
      }
      load();
      return;
    }
    if (event.target.closest("a")) return;
    const row = event.target.closest("tr[data-name]");
    if (!row) return;
    const name = row.dataset.name;
    expanded.has(name) ? expanded.delete(name) : expanded.add(name);
    draw();
  });
  filter.addEventListener("input", draw);

  const load = async () => {
    try {
      last = await api("/api/resources");
      draw();
    } catch (error) {
      tbody.innerHTML = `<tr><td colspan="9" class="empty">Cannot load resources: ${esc(error.message)}</td></tr>`;
    }
  };
  every(2000, load);
}

// ---------- Console logs ----------
async function renderConsole(replica) {
  const resources = await api("/api/resources").catch(() => []);
  if (!replica && resources.length) {
    location.replace(`#/console/${encodeURIComponent(resources[0].name)}`);
    return;
  }
  page.innerHTML = `
    <div class="page-header"><h1>Console logs</h1><span id="console-live" class="live off">connecting</span></div>
    <div class="toolbar">
      <label>Resource <select id="console-replica" aria-label="Resource">${resources.map((r) =>
        `<option value="${esc(r.name)}" ${r.name === replica ? "selected" : ""}>${esc(r.name)} · ${esc(r.state)}</option>`).join("")}</select></label>
      <label><input type="checkbox" id="console-follow" checked> Follow</label>
      <label><input type="checkbox" id="console-timestamps" checked> Timestamps</label>
      <button class="btn small" id="console-clear">Clear view</button>
    </div>
    <div class="console" id="console" role="log" aria-live="off"></div>`;
  page.querySelector("#console-replica").addEventListener("change", (e) => { location.hash = `#/console/${encodeURIComponent(e.target.value)}`; });
  if (!replica) {
    page.querySelector("#console").innerHTML = `<div class="empty">No resources yet.</div>`;
    return;
  }

  const view = page.querySelector("#console");
  const follow = page.querySelector("#console-follow");
  const live = page.querySelector("#console-live");
  const maxLines = 5000;
  let lastSequence = 0;
  page.querySelector("#console-timestamps").addEventListener("change", (e) => view.classList.toggle("no-ts", !e.target.checked));
  page.querySelector("#console-clear").addEventListener("click", () => { view.innerHTML = ""; });

  const append = (lines) => {
    if (!lines.length) return;
    const fragment = document.createDocumentFragment();
    for (const line of lines) {
      if (line.sequence <= lastSequence) continue;
      lastSequence = line.sequence;
      const div = document.createElement("div");
      div.className = `console-line${line.isError ? " stderr" : ""}`;
      div.innerHTML = `<span class="seq">${line.sequence}</span><span class="ts">${clock(line.timestamp)}</span><span class="text">${esc(line.text)}</span>`;
      fragment.appendChild(div);
    }
    view.appendChild(fragment);
    while (view.childElementCount > maxLines) view.firstElementChild.remove();
    if (follow.checked) view.scrollTop = view.scrollHeight;
  };

  try {
    append(await api(`/api/resources/${encodeURIComponent(replica)}/console`));
  } catch (error) {
    view.innerHTML = `<div class="empty">Cannot load console logs: ${esc(error.message)}</div>`;
    return;
  }

  const source = new EventSource(`/api/resources/${encodeURIComponent(replica)}/console/stream?after=${lastSequence}`);
  state.sources.push(source);
  source.addEventListener("open", () => { live.className = "live"; live.textContent = "live"; });
  source.addEventListener("error", () => { live.className = "live off"; live.textContent = "reconnecting"; });
  source.addEventListener("line", (e) => append([JSON.parse(e.data)]));
}

// ---------- Structured logs ----------
async function renderLogs() {
  const { params } = routeParams();
  const traceId = params.get("traceId") ?? "";
  page.innerHTML = `
    <div class="page-header"><h1>Structured logs</h1><span class="sub" id="log-count"></span></div>
    <div class="toolbar">
      <select id="log-resource" aria-label="Resource">${await resourceOptions(params.get("resource"))}</select>
      <select id="log-level" aria-label="Minimum level">
        ${["", "Trace", "Debug", "Information", "Warning", "Error", "Critical"].map((l) =>
          `<option value="${l}" ${l === (params.get("level") ?? "") ? "selected" : ""}>${l ? `${l} and above` : "All levels"}</option>`).join("")}
      </select>
      <input type="search" id="log-search" placeholder="Search message, category, attributes…" value="${esc(params.get("search") ?? "")}" aria-label="Search logs">
      ${traceId ? `<span class="badge plain info">trace ${esc(traceId.slice(0, 12))}… <a href="#/logs" title="Clear the trace filter">✕</a></span>` : ""}
    </div>
    <div class="panel"><table class="grid" id="logs-table">
      <thead><tr><th>Time</th><th>Resource</th><th>Level</th><th>Message</th><th>Category</th><th>Trace</th></tr></thead>
      <tbody></tbody></table></div>`;
  const tbody = page.querySelector("tbody");
  const controls = { resource: page.querySelector("#log-resource"), level: page.querySelector("#log-level"), search: page.querySelector("#log-search") };
  let open = null;
  let last = [];

  const draw = () => {
    if (!last.length) {
      tbody.innerHTML = `<tr><td colspan="6" class="empty">No logs match.</td></tr>`;
      return;
    }
    tbody.innerHTML = last.map((l) => `
      <tr class="clickable ${open === l.sequence ? "selected" : ""}" data-seq="${l.sequence}">
        <td class="mono">${clock(l.timestamp)}</td>
        <td>${chip(l.resource.name)}</td>
        <td>${levelBadge(l.level)}</td>
        <td class="message" title="${esc(l.message)}">${esc(l.message)}</td>
        <td class="muted">${esc(l.category)}</td>
        <td>${l.traceId ? `<a class="mono" href="#/traces/${l.traceId}">${l.traceId.slice(0, 8)}</a>` : ""}</td>
      </tr>
      ${open === l.sequence ? `<tr class="details"><td colspan="6">
        <div class="wrap" style="margin-bottom:8px">${esc(l.message)}</div>
        ${kv({ ...(l.traceId ? { trace_id: l.traceId, span_id: l.spanId } : {}), ...(l.eventName ? { event_name: l.eventName } : {}), ...l.attributes })}
      </td></tr>` : ""}`).join("");
  };

  const load = async () => {
    try {
      const result = await api(`/api/telemetry/logs${query({ resource: controls.resource.value, level: controls.level.value, search: controls.search.value.trim(), traceId, limit: 500 })}`);
      page.querySelector("#log-count").textContent = `${number(result.totalCount)} entries${result.totalCount > result.returnedCount ? `, newest ${result.returnedCount} shown` : ""}`;
      last = result.items;
      draw();
    } catch (error) {
      tbody.innerHTML = `<tr><td colspan="6" class="empty">Cannot load logs: ${esc(error.message)}</td></tr>`;
    }
  };
  tbody.addEventListener("click", (event) => {
    if (event.target.closest("a")) return;
    const row = event.target.closest("tr[data-seq]");
    if (!row) return;
    const seq = Number(row.dataset.seq);
    open = open === seq ? null : seq;
    draw();
  });
  Object.values(controls).forEach((c) => c.addEventListener(c.tagName === "INPUT" ? "input" : "change", load));
  every(3000, load);
}

// ---------- Traces ----------
async function renderTraces() {
  const { params } = routeParams();
  page.innerHTML = `
    <div class="page-header"><h1>Traces</h1><span class="sub" id="trace-count"></span></div>
    <div class="toolbar">
      <select id="trace-resource" aria-label="Resource">${await resourceOptions(params.get("resource"))}</select>
      <input type="search" id="trace-search" placeholder="Name or trace id…" aria-label="Search traces">
      <label>Min duration <input type="number" id="trace-min" min="0" step="1" style="width:90px" placeholder="ms" aria-label="Minimum duration in milliseconds"></label>
      <label><input type="checkbox" id="trace-errors"> Errors only</label>
    </div>
    <div class="panel"><table class="grid" id="traces-table">
      <thead><tr><th>Time</th><th>Name</th><th>Resources</th><th class="num">Spans</th><th>Duration</th><th>Status</th></tr></thead>
      <tbody></tbody></table></div>`;
  const tbody = page.querySelector("tbody");
  const controls = { resource: page.querySelector("#trace-resource"), search: page.querySelector("#trace-search"),
    min: page.querySelector("#trace-min"), errors: page.querySelector("#trace-errors") };

  const load = async () => {
    try {
      const result = await api(`/api/telemetry/traces${query({ resource: controls.resource.value, search: controls.search.value.trim(),
        minDurationMs: controls.min.value, errorsOnly: controls.errors.checked, limit: 300 })}`);
      page.querySelector("#trace-count").textContent = `${number(result.totalCount)} traces`;
      if (!result.items.length) {
        tbody.innerHTML = `<tr><td colspan="6" class="empty">No traces match.</td></tr>`;
        return;
      }
      const longest = Math.max(...result.items.map((t) => t.durationMs), 1);
      tbody.innerHTML = result.items.map((t) => `
        <tr class="clickable" data-trace="${t.traceId}">
          <td class="mono">${clock(t.startTime)}</td>
          <td><span class="res" style="color:${colour(t.rootResource)}">${esc(t.rootResource)}:</span> ${esc(t.rootName)}
            <span class="faint mono">${t.traceId.slice(0, 7)}</span> ${t.hasGenAi ? `<span class="badge ai">gen_ai</span>` : ""}</td>
          <td>${t.resources.map(chip).join("")}</td>
          <td class="num">${t.spanCount}</td>
          <td><div class="duration-cell"><div class="bar ${t.hasError ? "err" : ""}" style="width:${Math.max(2, (t.durationMs / longest) * 120)}px"></div>${ms(t.durationMs)}</div></td>
          <td>${t.hasError ? `<span class="badge err">${t.errorCount} error${t.errorCount > 1 ? "s" : ""}</span>` : `<span class="badge ok">OK</span>`}</td>
        </tr>`).join("");
    } catch (error) {
      tbody.innerHTML = `<tr><td colspan="6" class="empty">Cannot load traces: ${esc(error.message)}</td></tr>`;
    }
  };
  tbody.addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-trace]");
    if (row) location.hash = `#/traces/${row.dataset.trace}`;
  });
  Object.values(controls).forEach((c) => c.addEventListener(c.type === "search" || c.type === "number" ? "input" : "change", load));
  every(3000, load);
}

// ---------- Trace detail (waterfall) ----------
async function renderTrace(traceId) {
  let trace;
  try {
    trace = await api(`/api/telemetry/traces/${encodeURIComponent(traceId)}`);
  } catch (error) {
    page.innerHTML = `<div class="page-header"><h1>Trace</h1></div><div class="panel empty">Trace ${esc(traceId)} is not (or no longer) stored: ${esc(error.message)}</div>`;
    return;
  }
  const s = trace.summary;
  const spans = trace.spans;
  const start = Math.min(...spans.map((x) => new Date(x.startTime).getTime() * 1000 + micro(x.startTime)));
  const total = Math.max(s.durationMs, 0.001);

  // Depth-first order under each parent, children by start time: the usual waterfall reading order.
  const byParent = new Map();
  const ids = new Set(spans.map((x) => x.spanId));
  for (const span of spans) {
    const parent = span.parentSpanId && ids.has(span.parentSpanId) ? span.parentSpanId : "";
    if (!byParent.has(parent)) byParent.set(parent, []);
    byParent.get(parent).push(span);
  }
  const ordered = [];
  const walk = (parent, depth) => {
    for (const span of (byParent.get(parent) ?? []).sort((a, b) => a.startTime.localeCompare(b.startTime))) {
      ordered.push({ span, depth });
      walk(span.spanId, depth + 1);
    }
  };
  walk("", 0);

  const offsetMs = (iso) => (new Date(iso).getTime() * 1000 + micro(iso) - start) / 1000;
  const ticks = [0, 0.25, 0.5, 0.75, 1];

  page.innerHTML = `
    <div class="page-header"><h1><span style="color:${colour(s.rootResource)}">${esc(s.rootResource)}:</span> ${esc(s.rootName)}</h1>
      <a href="#/traces" class="sub">← all traces</a></div>
    <div class="trace-summary">
      <div><span class="label">Trace id</span><span class="value mono">${esc(s.traceId)}</span></div>
      <div><span class="label">Start</span><span class="value">${clock(s.startTime)}</span></div>
      <div><span class="label">Duration</span><span class="value" id="trace-duration">${ms(s.durationMs)}</span></div>
      <div><span class="label">Spans</span><span class="value">${s.spanCount}</span></div>
      <div><span class="label">Resources</span><span class="value">${s.resources.map(chip).join("")}</span></div>
      <div><span class="label">Status</span><span class="value">${s.hasError ? `<span class="badge err">${s.errorCount} error${s.errorCount > 1 ? "s" : ""}</span>` : `<span class="badge ok">OK</span>`}</span></div>
      <div><span class="label">Logs</span><span class="value"><a href="#/logs?traceId=${s.traceId}">View logs</a></span></div>
    </div>
    <div class="trace-layout" id="trace-layout">
      <div class="panel waterfall" id="waterfall">
        <div class="wf-head"><div style="padding-left:10px">Span</div><div class="wf-track ticks" style="border-left:none">${ticks.map((t) =>
          `<span style="left:${t * 100}%">${ms(total * t)}</span>`).join("")}</div></div>
        ${ordered.map(({ span, depth }) => {
          const left = (offsetMs(span.startTime) / total) * 100;
          const width = Math.max((span.durationMs / total) * 100, 0.2);
          return `<div class="waterfall-row" data-span="${span.spanId}">
            <div class="wf-name" style="padding-left:${10 + depth * 16}px">
              <i style="width:9px;height:9px;border-radius:2px;background:${colour(span.resource.name)};flex:none"></i>
              <span class="res">${esc(span.resource.name)}</span><span class="name">${esc(span.name)}</span>
              ${span.isError ? `<span class="err-mark" title="Error">!</span>` : ""}${span.genAi ? `<span class="badge ai">gen_ai</span>` : ""}
            </div>
            <div class="wf-track">
              ${ticks.slice(1, -1).map((t) => `<div class="gridline" style="left:${t * 100}%"></div>`).join("")}
              <div class="wf-bar ${span.isError ? "err" : ""}" style="left:${left}%;width:${width}%;background:${colour(span.resource.name)}"></div>
              ${span.events.map((e) => `<div class="wf-event" title="${esc(e.name)}" style="left:${(offsetMs(e.timestamp) / total) * 100}%"></div>`).join("")}
              <span class="wf-label" style="left:${Math.min(left + width, 100)}%">${ms(span.durationMs)}</span>
            </div>
          </div>`;
        }).join("")}
      </div>
      <div class="panel span-details" id="span-details" hidden></div>
    </div>`;

  const details = page.querySelector("#span-details");
  const layout = page.querySelector("#trace-layout");
  const select = (spanId) => {
    const span = spans.find((x) => x.spanId === spanId);
    page.querySelectorAll(".waterfall-row").forEach((r) => r.classList.toggle("selected", r.dataset.span === spanId));
    if (!span) return;
    details.hidden = false;
    layout.classList.add("with-details");
    const g = span.genAi;
    details.innerHTML = `
      <div style="display:flex;justify-content:space-between;gap:8px"><h2>${esc(span.name)}</h2><button class="icon-button" id="close-details" title="Close">✕</button></div>
      <div>${chip(span.resource.name)} <span class="kind">${esc(span.kind)}</span> ${span.isError ? `<span class="badge err">Error</span>` : span.status === "Ok" ? `<span class="badge ok">OK</span>` : ""}</div>
      ${span.statusMessage ? `<div class="banner" style="margin-top:8px">${esc(span.statusMessage)}</div>` : ""}
      ${g ? `<div class="genai" id="genai-summary"><strong>Generative AI</strong> <span class="muted">${esc(g.operation ?? "")} ${esc(g.system ?? "")}</span>
        <div class="figures">
          <div><span class="label">Model</span><span class="value mono" style="font-size:12px">${esc(g.responseModel ?? g.requestModel ?? "—")}</span></div>
          <div><span class="label">Tokens in / out</span><span class="value">${g.inputTokens ?? "—"} / ${g.outputTokens ?? "—"}</span></div>
          <div><span class="label">Time to first token</span><span class="value">${g.timeToFirstTokenMs != null ? ms(g.timeToFirstTokenMs) : "—"}</span></div>
        </div></div>` : ""}
      <h3>Span</h3>
      ${kv({ "span id": span.spanId, "parent id": span.parentSpanId ?? "(root)", start: clock(span.startTime), duration: ms(span.durationMs), scope: span.scope,
        offset: ms(offsetMs(span.startTime)) })}
      <h3>Attributes</h3>${kv(span.attributes)}
      <h3>Events (${span.events.length})</h3>
      ${span.events.length ? span.events.map((e) => `<div class="event"><strong>${esc(e.name)}</strong> <span class="muted">+${ms(offsetMs(e.timestamp) - offsetMs(span.startTime))}</span>${Object.keys(e.attributes).length ? kv(e.attributes) : ""}</div>`).join("") : `<div class="faint">none</div>`}
      ${span.links.length ? `<h3>Links</h3>${span.links.map((l) => `<div><a class="mono" href="#/traces/${l.traceId}">${l.traceId.slice(0, 12)}…/${l.spanId}</a></div>`).join("")}` : ""}`;
    details.querySelector("#close-details").addEventListener("click", () => {
      details.hidden = true;
      layout.classList.remove("with-details");
      page.querySelectorAll(".waterfall-row.selected").forEach((r) => r.classList.remove("selected"));
    });
  };
  page.querySelector("#waterfall").addEventListener("click", (event) => {
    const row = event.target.closest(".waterfall-row");
    if (row) select(row.dataset.span);
  });
}

// Date keeps milliseconds only; OTLP times are nanoseconds and sub-millisecond spans are common.
function micro(iso) {
  const m = /\.(\d+)/.exec(iso);
  return m ? Number((m[1] + "000000").slice(3, 6)) : 0;
}

// ---------- Metrics ----------
// The chat services' own instruments (chat.*) and the GenAI semantic-convention ones (gen_ai.*: time to first
// token, token usage) first, as charts; everything else as a list that opens a chart.
const chatInstrument = (name) => name.startsWith("chat.") || name.startsWith("gen_ai.");

async function renderMetrics(selected) {
  const { params } = routeParams();
  page.innerHTML = `
    <div class="page-header"><h1>Metrics</h1><span class="sub" id="metric-count"></span></div>
    <div class="toolbar"><select id="metric-resource" aria-label="Resource">${await resourceOptions(params.get("resource"))}</select></div>
    <div id="metric-selected"></div>
    <div class="section-title">Chat and GenAI</div>
    <div class="cards" id="chat-cards"><div class="empty">No chat.* or gen_ai.* instruments received yet.</div></div>
    <div class="section-title">All instruments</div>
    <div class="panel"><table class="grid" id="instruments-table">
      <thead><tr><th>Instrument</th><th>Type</th><th>Unit</th><th>Description</th><th>Resources</th><th class="num">Points</th></tr></thead>
      <tbody></tbody></table></div>`;
  const resource = page.querySelector("#metric-resource");
  resource.addEventListener("change", () => load());
  page.querySelector("#instruments-table tbody").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-instrument]");
    if (row) location.hash = `#/metrics/${encodeURIComponent(row.dataset.instrument)}${query({ resource: resource.value })}`;
  });

  const load = async () => {
    let instruments;
    try {
      instruments = await api(`/api/telemetry/metrics${query({ resource: resource.value })}`);
    } catch (error) {
      page.querySelector("#instruments-table tbody").innerHTML = `<tr><td colspan="6" class="empty">Cannot load metrics: ${esc(error.message)}</td></tr>`;
      return;
    }
    page.querySelector("#metric-count").textContent = `${instruments.length} instruments`;
    page.querySelector("#instruments-table tbody").innerHTML = instruments.length
      ? instruments.map((i) => `<tr class="clickable ${i.instrument.name === selected ? "selected" : ""}" data-instrument="${esc(i.instrument.name)}">
          <td class="mono">${esc(i.instrument.name)}</td><td class="muted">${esc(i.instrument.type)}</td><td class="muted">${esc(i.instrument.unit)}</td>
          <td class="message muted" title="${esc(i.instrument.description)}">${esc(i.instrument.description)}</td>
          <td>${i.resources.map(chip).join("")}</td><td class="num">${number(i.pointCount)}</td></tr>`).join("")
      : `<tr><td colspan="6" class="empty">No metrics received yet.</td></tr>`;

    const chat = instruments.filter((i) => chatInstrument(i.instrument.name));
    const cards = page.querySelector("#chat-cards");
    if (chat.length) {
      const series = await Promise.all(chat.map((i) => api(`/api/telemetry/metrics/${encodeURIComponent(i.instrument.name)}${query({ resource: resource.value, limit: 2000 })}`)));
      cards.innerHTML = series.map(chartCard).join("");
    }
    if (selected) {
      const one = await api(`/api/telemetry/metrics/${encodeURIComponent(selected)}${query({ resource: resource.value, limit: 2000 })}`).catch(() => null);
      page.querySelector("#metric-selected").innerHTML = one ? `<div class="cards" id="selected-card">${chartCard(one)}</div>` : "";
    }
  };
  every(5000, load);
}

// Series per (resource, attributes). Counters and histograms arrive cumulative: a chart shows what happened in
// each export interval (a rate for counters, the interval's mean for histograms); gauges and up-down counters as is.
function chartCard(series) {
  const info = series.instrument ?? { name: "?", unit: "", description: "", type: "" };
  const groups = new Map();
  for (const p of series.points) {
    const label = [p.resource.name, ...Object.entries(p.attributes).map(([k, v]) => `${k}=${v}`)].join(" ");
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(p);
  }
  const isHistogram = info.type.includes("Histogram") || info.type === "Summary";
  const isRate = info.type === "Counter";
  const lines = [...groups.entries()].slice(0, 8).map(([label, points]) => {
    const values = [];
    for (let i = 0; i < points.length; i++) {
      const p = points[i];
      const t = new Date(p.timestamp).getTime();
      if (isHistogram) {
        const prev = p.isCumulative && i > 0 ? points[i - 1].histogram : null;
        const count = p.histogram.count - (prev?.count ?? 0);
        const sum = p.histogram.sum - (prev?.sum ?? 0);
        if (count > 0) values.push([t, sum / count]);
      } else if (isRate && p.isCumulative) {
        if (i > 0) values.push([t, Math.max(0, (p.value - points[i - 1].value) / Math.max((t - new Date(points[i - 1].timestamp).getTime()) / 1000, 0.001))]);
      } else {
        values.push([t, p.value]);
      }
    }
    return { label, values, colour: colour(label) };
  });
  const last = (points) => points[points.length - 1];
  const latestText = (() => {
    const all = [...groups.values()].map(last).filter(Boolean);
    if (!all.length) return "—";
    if (isHistogram) {
      const count = all.reduce((a, p) => a + p.histogram.count, 0);
      const sum = all.reduce((a, p) => a + p.histogram.sum, 0);
      return `${number(count ? sum / count : 0)} <small>${esc(info.unit)} mean of ${number(count)}</small>`;
    }
    return `${number(all.reduce((a, p) => a + (p.value ?? 0), 0))} <small>${esc(info.unit)}${isRate ? " total" : ""}</small>`;
  })();
  const palette = ["#8b7bff", "#4fb3ff", "#3fb950", "#e3823b", "#e35b9b", "#2bb6a8", "#d2b32a", "#ef6f6c"];
  lines.forEach((l, i) => { l.colour = palette[i % palette.length]; });
  return `<div class="card" data-instrument="${esc(info.name)}">
    <h3>${esc(info.name)}</h3><div class="desc">${esc(info.description)} <span class="faint">${esc(info.type)}${isRate ? " · per second" : isHistogram ? " · mean per interval" : ""}</span></div>
    <div class="latest">${latestText}</div>
    ${sparkline(lines)}
    <div class="legend">${lines.map((l) => `<span><i style="background:${l.colour}"></i>${esc(l.label)}</span>`).join("")}</div>
  </div>`;
}

function sparkline(lines) {
  const width = 320, height = 110, left = 34, bottom = 14;
  const all = lines.flatMap((l) => l.values);
  if (all.length < 1) return `<svg viewBox="0 0 ${width} ${height}"><text x="${width / 2}" y="${height / 2}" text-anchor="middle">waiting for data</text></svg>`;
  const t0 = Math.min(...all.map((v) => v[0])), t1 = Math.max(...all.map((v) => v[0]), t0 + 1);
  const max = Math.max(...all.map((v) => v[1]), 0) || 1;
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - 4);
  const y = (v) => 4 + (1 - v / max) * (height - bottom - 8);
  const paths = lines.map((l) => l.values.length === 1
    ? `<circle cx="${x(l.values[0][0])}" cy="${y(l.values[0][1])}" r="2.5" fill="${l.colour}"/>`
    : `<polyline fill="none" stroke="${l.colour}" stroke-width="1.6" points="${l.values.map((v) => `${x(v[0]).toFixed(1)},${y(v[1]).toFixed(1)}`).join(" ")}"/>`).join("");
  return `<svg viewBox="0 0 ${width} ${height}" preserveAspectRatio="none" role="img">
    <line class="axis" x1="${left}" y1="${height - bottom}" x2="${width}" y2="${height - bottom}"/>
    <line class="axis" x1="${left}" y1="4" x2="${left}" y2="${height - bottom}"/>
    <text x="${left - 4}" y="10" text-anchor="end">${compact(max)}</text><text x="${left - 4}" y="${height - bottom}" text-anchor="end">0</text>
    <text x="${left}" y="${height - 2}">${clock(new Date(t0).toISOString()).slice(0, 8)}</text>
    <text x="${width - 2}" y="${height - 2}" text-anchor="end">${clock(new Date(t1).toISOString()).slice(0, 8)}</text>
    ${paths}</svg>`;
}

// ---------- routing ----------
async function route() {
  stopPage();
  const { parts } = routeParams();
  const [name = "resources", arg] = parts;
  document.querySelectorAll(".sidebar a").forEach((a) => a.classList.toggle("active", a.dataset.page === name));
  const views = {
    resources: () => renderResources(),
    console: () => renderConsole(arg),
    logs: () => renderLogs(),
    traces: () => (arg ? renderTrace(arg) : renderTraces()),
    metrics: () => renderMetrics(arg),
  };
  document.title = `Chat · ${name[0].toUpperCase()}${name.slice(1)}`;
  await (views[name] ?? views.resources)();
}

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("chat-dashboard-theme", theme);
}

document.getElementById("theme-toggle").addEventListener("click", () =>
  applyTheme(document.documentElement.dataset.theme === "light" ? "dark" : "light"));
applyTheme(localStorage.getItem("chat-dashboard-theme") ?? (matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark"));

api("/api/info").then((info) => {
  state.info = info;
  if (info.externalOtlpEndpoint) {
    const badge = document.createElement("span");
    badge.className = "badge warn";
    badge.id = "external-telemetry";
    badge.title = "Services send their telemetry there; this dashboard shows resources and console logs";
    badge.textContent = `telemetry → ${info.externalOtlpEndpoint}`;
    document.querySelector(".topbar-right").prepend(badge);
  }
}).catch(() => {});
window.addEventListener("hashchange", route);
setInterval(refreshStats, 3000);
refreshStats();
route();
