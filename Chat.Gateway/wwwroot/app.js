// The chat page: sessions on the left, the conversation in the middle, the transport comparison on the right.
// State lives in the page; each session's transcript is kept in localStorage (the public APIs have no history route),
// so another tab on the same session shows it too.
import { renderMarkdown, escapeHtml } from './markdown.js';
import { rest, ndjson, sse, grpcWeb, ChatSocket, sessions } from './transports.js';

const $ = (selector) => document.querySelector(selector);
const state = {
  transport: 'websocket',
  sessionId: null,
  busy: false,
  stats: {}, // transport → [{ttft, total}]
  watch: null, // AbortController of the gRPC-Web WatchSession
};

const socket = new ChatSocket(onSessionUpdate, (s) => { state.socketState = s; renderLive(); });
const transports = { rest, ndjson, sse, websocket: { name: 'websocket', label: 'WebSocket', streams: true, send: (a) => socket.send(a) }, 'grpc-web': grpcWeb };

// ---- transcript -----------------------------------------------------------------------------------------------
const transcriptKey = (id) => `chat.transcript.${id}`;
const loadTranscript = (id) => { try { return JSON.parse(localStorage.getItem(transcriptKey(id)) ?? '[]'); } catch { return []; } };
const saveTranscript = (id, items) => localStorage.setItem(transcriptKey(id), JSON.stringify(items.slice(-200)));
function remember(item) {
  if (!state.sessionId) return;
  const items = loadTranscript(state.sessionId);
  items.push(item);
  saveTranscript(state.sessionId, items);
}

function renderTranscript() {
  const box = $('#messages');
  box.querySelectorAll('.msg').forEach((m) => m.remove());
  const items = state.sessionId ? loadTranscript(state.sessionId) : [];
  $('#empty').hidden = items.length > 0;
  for (const item of items) box.append(messageElement(item));
  box.scrollTop = box.scrollHeight;
}

function messageElement(item) {
  const el = document.createElement('div');
  el.className = `msg ${item.role}`;
  if (item.role === 'user') {
    el.textContent = item.text;
  } else if (item.role === 'assistant') {
    el.innerHTML = `<div class="body">${renderMarkdown(item.text)}</div>`;
    el.dataset.state = 'done';
    if (item.transport) el.append(metaElement(item));
  } else {
    el.textContent = item.text;
  }
  return el;
}

function metaElement({ transport, ttft, total }) {
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.innerHTML = `<span class="tag ${transport}">${escapeHtml(transports[transport]?.label ?? transport)}</span>`
    + `<span class="ttft">TTFT ${ms(ttft)}</span><span class="total">total ${ms(total)}</span>`;
  return meta;
}

const ms = (value) => (value == null ? '–' : value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(2)} s`);

// ---- sending --------------------------------------------------------------------------------------------------
async function send(text) {
  if (state.busy || !text.trim()) return;
  state.busy = true;
  $('#send').disabled = true;
  stopTyping();
  const transport = transports[state.transport];
  const box = $('#messages');
  $('#empty').hidden = true;
  try {
    if (!state.sessionId) await openSession(await sessions.create());
    const sessionId = state.sessionId;
    box.append(messageElement({ role: 'user', text }));
    remember({ role: 'user', text });

    const el = document.createElement('div');
    el.className = 'msg assistant';
    el.dataset.transport = transport.name;
    el.dataset.state = transport.streams ? 'streaming' : 'waiting';
    el.innerHTML = '<div class="body"></div>';
    box.append(el);
    box.scrollTop = box.scrollHeight;

    const started = performance.now();
    let firstToken = null, text_ = '';
    const body = el.querySelector('.body');
    const result = await transport.send({
      sessionId, message: text,
      onChunk: (chunk) => {
        firstToken ??= performance.now();
        text_ += chunk;
        body.innerHTML = renderMarkdown(text_);
        if (transport.streams) el.dataset.state = 'streaming';
        box.scrollTop = box.scrollHeight;
      },
    });
    const ended = performance.now();
    const item = { role: 'assistant', text: result.fullText ?? text_, transport: transport.name, ttft: (firstToken ?? ended) - started, total: ended - started };
    body.innerHTML = renderMarkdown(item.text);
    el.dataset.state = 'done';
    el.append(metaElement(item));
    remember(item);
    record(item, result.messageCount);
    refreshSessions();
  } catch (error) {
    const item = { role: 'note error', text: `${transports[state.transport].label}: ${error.message}` };
    box.querySelector('.msg.assistant:last-child[data-state="streaming"], .msg.assistant:last-child[data-state="waiting"]')?.remove();
    box.append(messageElement(item));
  } finally {
    state.busy = false;
    $('#send').disabled = false;
    box.scrollTop = box.scrollHeight;
  }
}

// ---- comparison ----------------------------------------------------------------------------------------------
function record(item, messageCount) {
  (state.stats[item.transport] ??= []).push({ ttft: item.ttft, total: item.total });
  if (messageCount) {
    state.knownCount = messageCount;
    $('#session-count').textContent = `${messageCount} messages`;
  }
  const facts = { transport: transports[item.transport].label, 'time to first token': ms(item.ttft), 'total time': ms(item.total),
    characters: item.text.length, 'messages stored': messageCount ?? '–' };
  $('#last-reply').innerHTML = Object.entries(facts).map(([k, v]) => `<dt>${k}</dt><dd>${escapeHtml(String(v))}</dd>`).join('');
  renderComparison();
}

function renderComparison() {
  const avg = (xs, key) => xs.reduce((sum, x) => sum + x[key], 0) / xs.length;
  const rows = Object.keys(transports).filter((t) => state.stats[t]?.length).map((t) => ({
    t, n: state.stats[t].length, ttft: avg(state.stats[t], 'ttft'), total: avg(state.stats[t], 'total'),
  }));
  $('#comparison tbody').innerHTML = rows.length
    ? rows.map((r) => `<tr data-transport="${r.t}" class="${r.t === state.transport ? 'current' : ''}"><td><span class="tag ${r.t}">${transports[r.t].label}</span></td>`
      + `<td class="num">${r.n}</td><td class="num">${ms(r.ttft)}</td><td class="num">${ms(r.total)}</td></tr>`).join('')
    : '<tr><td colspan="4" class="muted">No replies yet</td></tr>';
  const longest = Math.max(1, ...rows.map((r) => r.total));
  $('#bars').innerHTML = rows.map((r) => `<div class="bar-row"><span>${transports[r.t].label}</span><div class="bar">`
    + `<div class="total" style="width:${(100 * r.total / longest).toFixed(1)}%;background:var(--t-${r.t})"></div>`
    + `<div class="ttft" style="width:${(100 * r.ttft / longest).toFixed(1)}%;background:var(--t-${r.t})"></div></div></div>`).join('');
}

// ---- sessions ------------------------------------------------------------------------------------------------
async function refreshSessions() {
  let list = [];
  try { list = await sessions.list(); } catch { /* the list is a convenience */ }
  $('#session-list').innerHTML = list.map((s) => `<li data-session="${escapeHtml(s.session_id)}" class="${s.session_id === state.sessionId ? 'active' : ''}">`
    + `<code>${escapeHtml(s.session_id.slice(0, 13))}</code><span class="count">${s.message_count}</span></li>`).join('')
    || '<li class="muted">No sessions yet</li>';
  const current = list.find((s) => s.session_id === state.sessionId);
  if (current) $('#session-count').textContent = `${current.message_count} messages`;
}

async function openSession(id) {
  state.sessionId = id;
  state.knownCount = 0;
  $('#session-id').textContent = id ?? 'none';
  $('#session-count').textContent = '';
  updateHash();
  renderTranscript();
  hideTyping();
  await startLive();
  refreshSessions();
}

function updateHash() {
  const params = new URLSearchParams();
  if (state.sessionId) params.set('session', state.sessionId);
  params.set('transport', state.transport);
  history.replaceState(null, '', `#${params}`);
}

// ---- live updates: the WebSocket's session updates, or gRPC-Web's WatchSession ----------------------------------
const liveSource = () => (state.transport === 'grpc-web' ? 'grpc-web' : state.transport === 'websocket' ? 'websocket' : null);

async function startLive() {
  state.watch?.abort();
  state.watch = null;
  state.watching = false;
  const source = liveSource();
  // The socket also sends this page's typing in gRPC-Web mode (typing over gRPC-Web reuses the WebSocket path).
  if (source) {
    await socket.join(state.sessionId);
    socket.connect().catch(() => {});
  }
  if (source === 'grpc-web' && state.sessionId) {
    const watch = state.watch = new AbortController();
    grpcWeb.watch(state.sessionId, watch.signal, onSessionUpdate, () => { if (state.watch === watch) { state.watching = true; renderLive(); } });
  }
  renderLive();
}

function renderLive() {
  const source = liveSource();
  // On once this page listens to the open session: WatchSession answered, or the socket joined it.
  const on = source === 'grpc-web' ? state.watching : source === 'websocket' && state.socketState === 'joined';
  $('#live').textContent = source ? `live: ${source === 'grpc-web' ? 'WatchSession' : 'WebSocket'}` : 'live: off';
  $('#live').classList.toggle('on', !!on);
}

let typingTimer = null;
function onSessionUpdate(update, source) {
  if (source !== liveSource() || update.session_id !== state.sessionId) return;
  if (update.update_type === 'user_typing') {
    if (update.connection_id && update.connection_id === socket.connectionId) return; // our own, echoed by WatchSession
    if (update.typing) {
      $('#typing').hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(hideTyping, 6000);
    } else {
      hideTyping();
    }
  } else if (update.update_type === 'message_added' && !state.busy && !(update.message_count <= state.knownCount)) {
    // (WatchSession also reports this page's own replies; those are at or below the count our last reply gave.)
    state.knownCount = update.message_count;
    hideTyping();
    renderTranscript(); // a tab of this browser has stored its side of the conversation
    const text = `Another tab got a reply (${update.message_count} messages): ${update.last_message_preview ?? ''}`;
    $('#empty').hidden = true;
    $('#messages').append(messageElement({ role: 'note', text }));
    $('#messages').scrollTop = $('#messages').scrollHeight;
    $('#session-count').textContent = `${update.message_count} messages`;
    refreshSessions();
  }
}

function hideTyping() {
  clearTimeout(typingTimer);
  $('#typing').hidden = true;
}

let typingSent = false, typingIdle = null;
function onInput() {
  if (!liveSource() || !state.sessionId) return;
  if (!typingSent) { socket.typing(true); typingSent = true; }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 3000);
}
function stopTyping() {
  clearTimeout(typingIdle);
  if (typingSent) socket.typing(false);
  typingSent = false;
}

// ---- wiring --------------------------------------------------------------------------------------------------
function selectTransport(name) {
  if (!transports[name]) return;
  state.transport = name;
  localStorage.setItem('chat.transport', name);
  for (const button of document.querySelectorAll('#transport-picker button')) {
    button.setAttribute('role', 'radio');
    button.setAttribute('aria-checked', String(button.dataset.transport === name));
  }
  updateHash();
  renderComparison();
  startLive();
}

function init() {
  const params = new URLSearchParams(location.hash.slice(1));
  selectTransport(params.get('transport') ?? localStorage.getItem('chat.transport') ?? 'websocket');
  $('#transport-picker').addEventListener('click', (e) => { if (e.target.dataset.transport) selectTransport(e.target.dataset.transport); });
  $('#composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('#message');
    const text = input.value;
    input.value = '';
    send(text);
  });
  $('#message').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('#composer').requestSubmit(); }
  });
  $('#message').addEventListener('input', onInput);
  $('#new-session').addEventListener('click', async () => openSession(await sessions.create()));
  $('#refresh-sessions').addEventListener('click', refreshSessions);
  $('#session-list').addEventListener('click', (e) => {
    const li = e.target.closest('li[data-session]');
    if (li) openSession(li.dataset.session);
  });
  $('#clear-session').addEventListener('click', async () => {
    if (!state.sessionId) return;
    await sessions.clear(state.sessionId);
    saveTranscript(state.sessionId, []);
    renderTranscript();
    refreshSessions();
  });
  $('#delete-session').addEventListener('click', async () => {
    if (!state.sessionId) return;
    await sessions.remove(state.sessionId);
    localStorage.removeItem(transcriptKey(state.sessionId));
    await openSession(null);
  });
  $('#json-index').href = '/?format=json';
  openSession(params.get('session'));
  renderComparison();
}

init();
