// The five ways the page talks to the gateway. Each send() streams one reply:
//   send({sessionId, message, onChunk(text)}) → Promise<{fullText, messageCount}>
// and throws an Error with the server's message when the turn fails. Paths are the gateway's (docs/gateway.md).
import { encodeChatRequest, encodeSessionInfoRequest, serverStream } from './protobuf.js';

const json = { 'content-type': 'application/json', accept: 'application/json' };

async function failure(response) {
  let detail = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    detail = body.detail ?? body.title ?? body.message ?? body.error ?? detail;
  } catch { /* not JSON */ }
  return new Error(detail);
}

/** REST: one POST, the whole reply at once. */
export const rest = {
  name: 'rest', label: 'REST', streams: false,
  async send({ sessionId, message, onChunk }) {
    const response = await fetch('/rest/chat', { method: 'POST', headers: json, body: JSON.stringify({ message, session_id: sessionId }) });
    if (!response.ok) throw await failure(response);
    const body = await response.json();
    onChunk(body.response);
    return { fullText: body.response, messageCount: body.message_count };
  },
};

/** NDJSON: fetch with a streamed body, one JSON object per line. */
export const ndjson = {
  name: 'ndjson', label: 'NDJSON', streams: true,
  async send({ sessionId, message, onChunk }) {
    const response = await fetch('/streaming/chat/stream', {
      method: 'POST', headers: { ...json, accept: 'application/x-ndjson' }, body: JSON.stringify({ message, session_id: sessionId }),
    });
    if (!response.ok) throw await failure(response);
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '', fullText = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error('The stream ended before the reply completed');
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line) continue;
        const event = JSON.parse(line);
        if (event.type === 'chunk' && event.text) { fullText += event.text; onChunk(event.text); }
        else if (event.type === 'error') throw new Error(event.message);
        else if (event.type === 'complete') { reader.cancel().catch(() => {}); return { fullText, messageCount: event.message_count }; }
      }
    }
  },
};

/**
 * SSE, the resumable form: POST /sse/chat/turns starts a detached turn, EventSource reads its events. A dropped
 * connection is retried by EventSource itself with Last-Event-ID, and the server resumes after that event.
 */
export const sse = {
  name: 'sse', label: 'SSE', streams: true,
  async send({ sessionId, message, onChunk }) {
    const started = await fetch('/sse/chat/turns', { method: 'POST', headers: json, body: JSON.stringify({ message, session_id: sessionId }) });
    if (!started.ok) throw await failure(started);
    const { turn_id: turnId } = await started.json();
    return new Promise((resolve, reject) => {
      const source = new EventSource(`/sse/chat/turns/${encodeURIComponent(turnId)}/events`);
      let fullText = '';
      source.addEventListener('chunk', (e) => {
        const event = JSON.parse(e.data);
        if (event.text) { fullText += event.text; onChunk(event.text); }
      });
      source.addEventListener('complete', (e) => {
        source.close();
        resolve({ fullText, messageCount: JSON.parse(e.data).message_count });
      });
      source.addEventListener('error', (e) => {
        if (e.data) { // the server's error event; a connection error has no data and EventSource reconnects
          source.close();
          reject(new Error(JSON.parse(e.data).message));
        } else if (source.readyState === EventSource.CLOSED) {
          reject(new Error('The event stream closed before the reply completed'));
        }
      });
    });
  },
};

/**
 * WebSocket: one socket for the page (/websocket/ws), joined to the open session. It carries chat turns, typing,
 * and the session's live updates from other tabs.
 */
export class ChatSocket {
  constructor(onUpdate, onState) {
    this.onUpdate = onUpdate;
    this.onState = onState;
    this.connectionId = null;
    this.sessionId = null;
    this.pending = new Map(); // the reply in flight, keyed 'current' (one turn per session at a time)
    this.ready = null;
  }

  connect() {
    if (this.ready) return this.ready;
    this.ready = new Promise((resolve, reject) => {
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const socket = new WebSocket(`${scheme}://${location.host}/websocket/ws`);
      this.socket = socket;
      socket.onmessage = (e) => {
        const msg = JSON.parse(e.data);
        if (msg.type === 'connected') {
          this.connectionId = msg.connection_id;
          this.onState('open');
          if (this.sessionId) this.post({ type: 'join_session', session_id: this.sessionId });
          resolve(this);
        } else {
          this.dispatch(msg);
        }
      };
      socket.onclose = () => {
        this.ready = null;
        this.onState('closed');
        this.pending.get('current')?.reject(new Error('The WebSocket closed'));
        this.pending.clear();
        reject(new Error('The WebSocket closed'));
      };
    });
    return this.ready;
  }

  post(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  async join(sessionId) {
    if (sessionId !== this.sessionId && this.socket?.readyState === WebSocket.OPEN) this.onState('open');
    this.sessionId = sessionId;
    if (this.socket?.readyState === WebSocket.OPEN && sessionId) this.post({ type: 'join_session', session_id: sessionId });
  }

  typing(active) {
    if (this.sessionId) this.post({ type: active ? 'typing_start' : 'typing_stop', session_id: this.sessionId });
  }

  dispatch(msg) {
    const turn = this.pending.get('current');
    switch (msg.type) {
      case 'session_update': this.onUpdate(msg, 'websocket'); break;
      case 'session_joined': case 'session_created': this.onState('joined'); break;
      case 'chunk': if (turn && msg.text) { turn.fullText += msg.text; turn.onChunk(msg.text); } break;
      case 'response_complete':
        this.pending.delete('current');
        turn?.resolve({ fullText: msg.full_response ?? turn.fullText, messageCount: msg.message_count });
        break;
      case 'response_cancelled':
        this.pending.delete('current');
        turn?.reject(new Error('Response cancelled'));
        break;
      case 'error':
        if (turn) { this.pending.delete('current'); turn.reject(new Error(msg.message)); }
        break;
    }
  }

  async send({ sessionId, message, onChunk }) {
    await this.connect();
    return new Promise((resolve, reject) => {
      this.pending.set('current', { resolve, reject, onChunk, fullText: '' });
      this.post({ type: 'chat', message, session_id: sessionId });
    });
  }
}

/** gRPC-Web: fetch to /grpc/chat.ChatService/SendMessage, frames decoded by hand (protobuf.js). */
export const grpcWeb = {
  name: 'grpc-web', label: 'gRPC-Web', streams: true,
  async send({ sessionId, message, onChunk }) {
    let fullText = '';
    for await (const response of serverStream('/grpc/chat.ChatService/SendMessage', encodeChatRequest({ sessionId, message }))) {
      if (response.type === 'CHUNK' && response.chunk_text) { fullText += response.chunk_text; onChunk(response.chunk_text); }
      else if (response.type === 'ERROR') throw new Error(response.error_message);
      else if (response.type === 'RESPONSE_COMPLETE') return { fullText: response.full_response ?? fullText, messageCount: response.message_count };
    }
    throw new Error('The call ended before the reply completed');
  },

  /** The session's SESSION_UPDATEs until the signal aborts (a STATUS first, once subscribed); reconnects after a drop. */
  async watch(sessionId, signal, onUpdate, onOpen) {
    while (!signal.aborted) {
      try {
        for await (const update of serverStream('/grpc/chat.ChatService/WatchSession', encodeSessionInfoRequest(sessionId), signal)) {
          if (update.type === 'STATUS') onOpen?.(); // subscribed: nothing after this is missed
          if (update.type !== 'SESSION_UPDATE') continue;
          const data = JSON.parse(update.update_data || '{}');
          onUpdate({ session_id: update.session_id, update_type: update.update_type, message_count: update.message_count, ...data }, 'grpc-web');
        }
      } catch (error) {
        if (signal.aborted || error.status === 5) return; // left, or the session is gone
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  },
};

/** Session management goes through the REST transport's shared routes (every transport serves the same ones). */
export const sessions = {
  async list() {
    const response = await fetch('/rest/sessions', { headers: json });
    if (!response.ok) throw await failure(response);
    return (await response.json()).sessions;
  },
  async create() {
    const response = await fetch('/rest/sessions/new', { method: 'POST', headers: json, body: '{}' });
    if (!response.ok) throw await failure(response);
    return (await response.json()).session_id;
  },
  async clear(id) {
    const response = await fetch(`/rest/sessions/${encodeURIComponent(id)}/clear`, { method: 'POST', headers: json });
    if (!response.ok) throw await failure(response);
  },
  async remove(id) {
    const response = await fetch(`/rest/sessions/${encodeURIComponent(id)}`, { method: 'DELETE', headers: json });
    if (!response.ok && response.status !== 404) throw await failure(response);
  },
};
