// The three HTTP transports: REST (one POST, the whole reply), NDJSON (a streamed body, one JSON object a line) and
// SSE (the resumable form: POST a turn, then read its events with EventSource). Paths are the gateway's.
import { failure, jsonHeaders } from '../api/http.js';
import { readLines } from './lines.js';
import type { ChatTransport, TurnRequest, TurnResult } from './types.js';

interface RestReply {
  response: string;
  session_id: string;
  message_count?: number;
  is_new_session?: boolean;
}

export const rest: ChatTransport = {
  name: 'rest',
  label: 'REST',
  streams: false,
  async send({ sessionId, message, onChunk }: TurnRequest): Promise<TurnResult> {
    const response = await fetch('/rest/chat', {
      method: 'POST', headers: jsonHeaders, body: JSON.stringify({ message, session_id: sessionId }),
    });
    if (!response.ok) throw await failure(response);
    const body = (await response.json()) as RestReply;
    onChunk(body.response);
    return { fullText: body.response, messageCount: body.message_count, sessionId: body.session_id, isNewSession: !!body.is_new_session };
  },
};

interface StreamEvent {
  type: string;
  text?: string;
  message?: string;
  session_id?: string;
  is_new_session?: boolean;
  message_count?: number;
}

export const ndjson: ChatTransport = {
  name: 'ndjson',
  label: 'NDJSON',
  streams: true,
  async send({ sessionId, message, onChunk }: TurnRequest): Promise<TurnResult> {
    const response = await fetch('/streaming/chat/stream', {
      method: 'POST',
      headers: { ...jsonHeaders, accept: 'application/x-ndjson' },
      body: JSON.stringify({ message, session_id: sessionId }),
    });
    if (!response.ok) throw await failure(response);
    if (!response.body) throw new Error('The response has no body');
    let fullText = '';
    let session = sessionId;
    let isNewSession = false;
    for await (const line of readLines(response.body)) {
      const event = JSON.parse(line) as StreamEvent;
      switch (event.type) {
        case 'session_info':
          session = event.session_id ?? session;
          isNewSession = !!event.is_new_session;
          break;
        case 'chunk':
          if (event.text) {
            fullText += event.text;
            onChunk(event.text);
          }
          break;
        case 'error':
          throw new Error(event.message ?? 'The reply failed');
        case 'complete':
          return { fullText, messageCount: event.message_count, sessionId: event.session_id ?? session, isNewSession };
      }
    }
    throw new Error('The stream ended before the reply completed');
  },
};

interface TurnStarted {
  turn_id: string;
  session_id: string;
  is_new_session: boolean;
}

/**
 * A dropped connection is retried by EventSource itself with Last-Event-ID, and the server resumes after that event,
 * so a network blip costs no text.
 */
export const sse: ChatTransport = {
  name: 'sse',
  label: 'SSE',
  streams: true,
  async send({ sessionId, message, onChunk }: TurnRequest): Promise<TurnResult> {
    const started = await fetch('/sse/chat/turns', {
      method: 'POST', headers: jsonHeaders, body: JSON.stringify({ message, session_id: sessionId }),
    });
    if (!started.ok) throw await failure(started);
    const turn = (await started.json()) as TurnStarted;
    return new Promise<TurnResult>((resolve, reject) => {
      const source = new EventSource(`/sse/chat/turns/${encodeURIComponent(turn.turn_id)}/events`);
      let fullText = '';
      source.addEventListener('chunk', (e) => {
        const event = JSON.parse((e as MessageEvent<string>).data) as StreamEvent;
        if (event.text) {
          fullText += event.text;
          onChunk(event.text);
        }
      });
      source.addEventListener('complete', (e) => {
        source.close();
        const event = JSON.parse((e as MessageEvent<string>).data) as StreamEvent;
        resolve({ fullText, messageCount: event.message_count, sessionId: turn.session_id, isNewSession: turn.is_new_session });
      });
      source.addEventListener('error', (e) => {
        const data = (e as MessageEvent<string>).data;
        if (data) {
          // The server's own error event; a connection error has no data, and EventSource reconnects.
          source.close();
          reject(new Error((JSON.parse(data) as StreamEvent).message ?? 'The reply failed'));
        } else if (source.readyState === EventSource.CLOSED) {
          reject(new Error('The event stream closed before the reply completed'));
        }
      });
    });
  },
};
