// The chat page: sessions (drawer or column), the conversation, the transport comparison (sheet or column).
// The conversation comes from the server (GET /sessions/{id}/history), so a session started from the CLI, curl or
// another browser opens with its history; replies of this page are appended as they stream.
import { sessions, type HistoryEntry, type SessionSummary } from './api/sessions.js';
import { escapeHtml, renderMarkdown } from './markdown.js';
import { TimingStats } from './stats.js';
import { ms, relativeTime, shortTitle } from './time.js';
import { grpcWeb } from './transports/grpcWeb.js';
import { ndjson, rest, sse } from './transports/http.js';
import { isTransportName, transportNames, type ChatTransport, type TransportName } from './transports/types.js';
import { ChatSocket, type SessionUpdate, type SocketState } from './transports/websocket.js';
import { $, element } from './ui/dom.js';
import { setupSheets } from './ui/sheets.js';

/** Messages per history page: the newest first, older ones on "Load earlier messages". */
const historyPageSize = 50;

/**
 * Every render of a reply is announced as a `chat:reply` DOM event on its element (detail: state, transport), after
 * the DOM shows it: the browser tests read the streamed states from these events instead of racing the stream.
 */
export type ReplyState = 'waiting' | 'streaming' | 'done' | 'failed';

const state = {
  transport: 'websocket' as TransportName,
  sessionId: null as string | null,
  sessionTitle: null as string | null,
  busy: false,
  knownCount: 0,
  olderBefore: null as number | null,
  openToken: 0,
  watch: null as AbortController | null,
  watching: false,
  socketState: 'closed' as SocketState,
  list: [] as SessionSummary[],
  /** False while the open session is one the server did not know (nothing to listen to until a message starts it). */
  sessionExists: true,
};

const stats = new TimingStats();
const socket = new ChatSocket(
  (update) => onSessionUpdate(update, 'websocket'),
  (socketState) => {
    state.socketState = socketState;
    renderLive();
  },
);
const transports: Record<TransportName, ChatTransport> = { rest, ndjson, sse, websocket: socket, 'grpc-web': grpcWeb };
const sheets = setupSheets();

// ---- the conversation -------------------------------------------------------------------------------------------
const messages = () => $('#messages');

function updateEmpty(): void {
  $('#empty').hidden = messages().querySelector('.msg') !== null;
}

function scrollToEnd(): void {
  messages().scrollTop = messages().scrollHeight;
}

function userElement(text: string): HTMLElement {
  return element('div', 'msg user', text);
}

function assistantElement(text: string): HTMLElement {
  const el = element('div', 'msg assistant');
  el.dataset.state = 'done';
  const body = element('div', 'body');
  body.innerHTML = renderMarkdown(text);
  el.append(body);
  return el;
}

function noteElement(text: string, kind = ''): HTMLElement {
  return element('div', `msg note ${kind}`.trim(), text);
}

function historyElement(entry: HistoryEntry): HTMLElement {
  const el = entry.role === 'user' ? userElement(entry.text) : assistantElement(entry.text);
  el.dataset.index = String(entry.index);
  el.title = new Date(entry.timestamp).toLocaleString();
  return el;
}

function clearConversation(): void {
  messages().querySelectorAll('.msg').forEach((m) => m.remove());
  $('#load-earlier').hidden = true;
  state.olderBefore = null;
  updateEmpty();
}

function append(el: HTMLElement): void {
  messages().append(el);
  updateEmpty();
  scrollToEnd();
}

/**
 * Shows the session's newest history page; false when the server does not know the session. A refresh (after
 * another tab's reply) gives way to a reply this page is streaming: that one's update comes next.
 */
async function loadHistory(id: string, token: number, refresh = false): Promise<boolean> {
  const page = await sessions.history(id, { limit: historyPageSize });
  if (token !== state.openToken || (refresh && state.busy)) return true; // another session was opened meanwhile
  clearConversation();
  if (!page) return false;
  for (const entry of page.messages) messages().append(historyElement(entry));
  state.knownCount = page.total;
  state.olderBefore = page.next_before;
  $('#load-earlier').hidden = !page.has_more;
  const first = page.messages[0];
  if (first?.index === 0 && first.role === 'user' && !state.sessionTitle) setTitle(shortTitle(first.text));
  renderCount(page.total);
  updateEmpty();
  scrollToEnd();
  return true;
}

async function loadEarlier(): Promise<void> {
  const id = state.sessionId;
  if (!id || state.olderBefore == null) return;
  const page = await sessions.history(id, { limit: historyPageSize, before: state.olderBefore });
  if (!page || id !== state.sessionId) return;
  const box = messages();
  const fromBottom = box.scrollHeight - box.scrollTop;
  const anchor = $('#load-earlier').nextElementSibling;
  for (const entry of page.messages) box.insertBefore(historyElement(entry), anchor);
  state.olderBefore = page.next_before;
  $('#load-earlier').hidden = !page.has_more;
  box.scrollTop = box.scrollHeight - fromBottom; // keep the message in view where it was
}

// ---- sending ----------------------------------------------------------------------------------------------------
function announce(el: HTMLElement, replyState: ReplyState, transport: TransportName): void {
  el.dataset.state = replyState;
  el.dispatchEvent(new CustomEvent('chat:reply', { bubbles: true, detail: { state: replyState, transport } }));
}

async function send(text: string): Promise<void> {
  if (state.busy || !text.trim()) return;
  state.busy = true;
  $<HTMLButtonElement>('#send').disabled = true;
  stopTyping();
  const transport = transports[state.transport];
  let reply: HTMLElement | null = null;
  try {
    if (!state.sessionId) await openSession(await sessions.create());
    const requested = state.sessionId!;
    const question = userElement(text);
    append(question);
    if (!state.sessionTitle) setTitle(shortTitle(text));

    reply = element('div', 'msg assistant');
    reply.dataset.transport = transport.name;
    const body = element('div', 'body');
    reply.append(body);
    append(reply);
    announce(reply, transport.streams ? 'streaming' : 'waiting', transport.name);

    const started = performance.now();
    let firstToken: number | null = null;
    let streamed = '';
    const result = await transport.send({
      sessionId: requested,
      message: text,
      onChunk: (chunk) => {
        firstToken ??= performance.now();
        streamed += chunk;
        body.innerHTML = renderMarkdown(streamed);
        scrollToEnd();
        announce(reply!, transport.streams ? 'streaming' : 'waiting', transport.name);
      },
    });
    const ended = performance.now();
    const timing = { ttft: (firstToken ?? ended) - started, total: ended - started };
    const fullText = result.fullText || streamed;
    body.innerHTML = renderMarkdown(fullText);
    reply.append(metaElement(transport.name, timing.ttft, timing.total));
    announce(reply, 'done', transport.name);

    if (result.isNewSession) {
      // get-or-create: the server did not know the session and stored this turn in a new one; say so.
      messages().insertBefore(
        noteElement(`Session ${requested} not found; started a new one (${result.sessionId}).`, 'notice'),
        question,
      );
      adoptSession(result.sessionId);
    }

    stats.record(transport.name, timing);
    if (result.messageCount) {
      state.knownCount = result.messageCount;
      renderCount(result.messageCount);
    }
    renderLastReply(transport.name, timing, fullText.length, result.messageCount);
    renderComparison();
    void refreshSessions();
  } catch (error) {
    if (reply) {
      announce(reply, 'failed', transport.name);
      reply.remove();
    }
    append(noteElement(`${transport.label}: ${(error as Error).message}`, 'error'));
  } finally {
    state.busy = false;
    $<HTMLButtonElement>('#send').disabled = false;
    scrollToEnd();
  }
}

function metaElement(transport: TransportName, ttft: number, total: number): HTMLElement {
  const meta = element('div', 'meta');
  meta.append(element('span', `tag ${transport}`, transports[transport].label), element('span', 'ttft', `TTFT ${ms(ttft)}`),
    element('span', 'total', `total ${ms(total)}`));
  return meta;
}

// ---- comparison ---------------------------------------------------------------------------------------------------
function renderLastReply(transport: TransportName, timing: { ttft: number; total: number }, characters: number, messageCount?: number): void {
  const facts: Record<string, string | number> = {
    transport: transports[transport].label,
    'time to first token': ms(timing.ttft),
    'total time': ms(timing.total),
    characters,
    'messages stored': messageCount ?? '–',
  };
  $('#last-reply').innerHTML = Object.entries(facts).map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(String(v))}</dd>`).join('');
}

function renderComparison(): void {
  const rows = stats.rows(transportNames);
  $('#comparison tbody').innerHTML = rows.length
    ? rows.map((r) => `<tr data-transport="${r.transport}" class="${r.transport === state.transport ? 'current' : ''}">`
      + `<td><span class="tag ${r.transport}">${escapeHtml(transports[r.transport].label)}</span></td>`
      + `<td class="num">${r.n}</td><td class="num">${ms(r.ttft)}</td><td class="num">${ms(r.total)}</td></tr>`).join('')
    : '<tr><td colspan="4" class="muted">No replies yet</td></tr>';
  const longest = Math.max(1, ...rows.map((r) => r.total));
  $('#bars').innerHTML = rows.map((r) => `<div class="bar-row"><span>${escapeHtml(transports[r.transport].label)}</span><div class="bar">`
    + `<div class="total" style="width:${((100 * r.total) / longest).toFixed(1)}%;background:var(--t-${r.transport})"></div>`
    + `<div class="ttft" style="width:${((100 * r.ttft) / longest).toFixed(1)}%;background:var(--t-${r.transport})"></div></div></div>`).join('');
}

// ---- sessions -----------------------------------------------------------------------------------------------------
function renderCount(count: number): void {
  $('#session-count').textContent = `${count} message${count === 1 ? '' : 's'}`;
}

function setTitle(title: string | null): void {
  state.sessionTitle = title;
  $('#session-name').textContent = title ?? (state.sessionId ? 'Untitled conversation' : 'New conversation');
}

async function refreshSessions(): Promise<void> {
  try {
    state.list = await sessions.list();
  } catch {
    // The list is a convenience; the conversation still works.
  }
  renderSessions();
}

function renderSessions(): void {
  const list = $('#session-list');
  list.replaceChildren();
  const now = new Date();
  for (const s of state.list) {
    const item = element('li');
    item.dataset.session = s.session_id;
    item.classList.toggle('active', s.session_id === state.sessionId);
    item.title = s.session_id;
    const title = element('span', s.title ? 'title' : 'title untitled', s.title ?? 'No messages yet');
    const count = element('span', 'count', String(s.message_count));
    count.title = 'messages';
    const when = element('span', 'when', relativeTime(s.last_activity, now));
    when.title = new Date(s.last_activity).toLocaleString();
    item.append(title, count, when);
    list.append(item);
  }
  if (!state.list.length) list.append(element('li', 'muted', 'No sessions yet'));
  const current = state.list.find((s) => s.session_id === state.sessionId);
  if (current) {
    renderCount(current.message_count);
    if (current.title && current.title !== state.sessionTitle) setTitle(current.title);
  }
}

async function openSession(id: string | null): Promise<void> {
  const token = ++state.openToken;
  state.sessionId = id;
  state.sessionExists = true;
  state.knownCount = 0;
  renderSessionHeader();
  $('#session-count').textContent = '';
  setTitle(state.list.find((s) => s.session_id === id)?.title ?? null);
  updateHash();
  clearConversation();
  hideTyping();
  if (id) {
    let found = true;
    try {
      found = await loadHistory(id, token);
    } catch (error) {
      append(noteElement(`Could not load the conversation: ${(error as Error).message}`, 'error'));
    }
    if (!found && token === state.openToken) {
      state.sessionExists = false;
      append(noteElement(`Session ${id} not found; your next message starts a new one.`, 'notice'));
    }
  }
  if (token !== state.openToken) return;
  renderSessions();
  await startLive();
  void refreshSessions();
}

/** The server stored the conversation in another session (get-or-create): follow it without reloading. */
function adoptSession(id: string): void {
  state.sessionId = id;
  state.sessionExists = true;
  renderSessionHeader();
  updateHash();
  void startLive();
}

/** The header shows the open session; Clear and Delete need one. */
function renderSessionHeader(): void {
  $('#session-id').textContent = state.sessionId ?? 'none';
  for (const id of ['#clear-session', '#delete-session']) $<HTMLButtonElement>(id).disabled = !state.sessionId;
}

function updateHash(): void {
  const params = new URLSearchParams();
  if (state.sessionId) params.set('session', state.sessionId);
  params.set('transport', state.transport);
  history.replaceState(null, '', `#${params}`);
}

// ---- live updates: the WebSocket's session updates, or gRPC-Web's WatchSession ------------------------------------
type LiveSource = 'websocket' | 'grpc-web' | null;
const liveSource = (): LiveSource => (state.transport === 'grpc-web' ? 'grpc-web' : state.transport === 'websocket' ? 'websocket' : null);

async function startLive(): Promise<void> {
  state.watch?.abort();
  state.watch = null;
  state.watching = false;
  const source = liveSource();
  const listenTo = state.sessionExists ? state.sessionId : null;
  // The socket also carries this page's typing in gRPC-Web mode (typing over gRPC-Web reuses the WebSocket path).
  if (source) {
    socket.join(listenTo);
    socket.connect().catch(() => {});
  }
  if (source === 'grpc-web' && listenTo) {
    const watch = new AbortController();
    state.watch = watch;
    void grpcWeb.watch(listenTo, watch.signal, (update) => onSessionUpdate(update, 'grpc-web'), () => {
      if (state.watch === watch) {
        state.watching = true;
        renderLive();
      }
    });
  }
  renderLive();
}

function renderLive(): void {
  const source = liveSource();
  // On once this page listens to the open session: WatchSession answered, or the socket joined it.
  const on = source === 'grpc-web' ? state.watching : source === 'websocket' && state.socketState === 'joined';
  const live = $('#live');
  live.textContent = source ? `live: ${source === 'grpc-web' ? 'WatchSession' : 'WebSocket'}` : 'live: off';
  live.classList.toggle('on', on);
}

let typingTimer: ReturnType<typeof setTimeout> | undefined;
function onSessionUpdate(update: SessionUpdate, source: LiveSource): void {
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
  } else if (update.update_type === 'message_added' && !state.busy && (update.message_count ?? 0) > state.knownCount) {
    // Another tab, the CLI or curl added to this session (WatchSession also reports this page's own replies: those
    // are at or below the count our last reply gave). Show the conversation as the server has it.
    state.knownCount = update.message_count ?? state.knownCount;
    hideTyping();
    const id = state.sessionId!;
    const token = state.openToken;
    void loadHistory(id, token, true).then(() => {
      if (token !== state.openToken || state.busy) return;
      append(noteElement(`Another tab got a reply (${update.message_count} messages): ${update.last_message_preview ?? ''}`));
      void refreshSessions();
    });
  }
}

function hideTyping(): void {
  clearTimeout(typingTimer);
  $('#typing').hidden = true;
}

let typingSent = false;
let typingIdle: ReturnType<typeof setTimeout> | undefined;
function onInput(): void {
  if (!liveSource() || !state.sessionId) return;
  if (!typingSent) {
    socket.typing(true);
    typingSent = true;
  }
  clearTimeout(typingIdle);
  typingIdle = setTimeout(stopTyping, 3000);
}

function stopTyping(): void {
  clearTimeout(typingIdle);
  if (typingSent) socket.typing(false);
  typingSent = false;
}

// ---- wiring -------------------------------------------------------------------------------------------------------
function selectTransport(name: TransportName): void {
  state.transport = name;
  localStorage.setItem('chat.transport', name);
  for (const button of document.querySelectorAll<HTMLButtonElement>('#transport-picker button')) {
    button.setAttribute('aria-checked', String(button.dataset.transport === name));
  }
  $('#transport-current').textContent = transports[name].label;
  updateHash();
  renderComparison();
  void startLive();
}

export function start(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const wanted = params.get('transport') ?? localStorage.getItem('chat.transport');
  selectTransport(isTransportName(wanted) ? wanted : 'websocket');

  $('#transport-picker').addEventListener('click', (e) => {
    const name = (e.target as HTMLElement).closest<HTMLElement>('[data-transport]')?.dataset.transport;
    if (isTransportName(name)) {
      selectTransport(name);
      sheets.close();
    }
  });
  $('#composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $<HTMLTextAreaElement>('#message');
    const text = input.value;
    input.value = '';
    void send(text);
  });
  $('#message').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      $<HTMLFormElement>('#composer').requestSubmit();
    }
  });
  $('#message').addEventListener('input', onInput);
  $('#new-session').addEventListener('click', async () => {
    sheets.close();
    await openSession(await sessions.create());
  });
  $('#refresh-sessions').addEventListener('click', () => void refreshSessions());
  $('#session-list').addEventListener('click', (e) => {
    const item = (e.target as HTMLElement).closest<HTMLElement>('li[data-session]');
    if (!item) return;
    sheets.close();
    void openSession(item.dataset.session!);
  });
  $('#load-earlier').addEventListener('click', () => void loadEarlier());
  $('#clear-session').addEventListener('click', async () => {
    sheets.close();
    if (!state.sessionId) return;
    await sessions.clear(state.sessionId);
    clearConversation();
    setTitle(null);
    state.knownCount = 0;
    renderCount(0);
    void refreshSessions();
  });
  $('#delete-session').addEventListener('click', async () => {
    sheets.close();
    if (!state.sessionId) return;
    await sessions.remove(state.sessionId);
    await openSession(null);
  });
  // Relative times in the list stay true while the page is open.
  setInterval(renderSessions, 30_000);
  void openSession(params.get('session'));
  renderComparison();
}
