// One WebSocket for the page (/websocket/ws), joined to the open session. It carries chat turns, typing, and the
// session's live updates from other tabs (docs/bidi-transports.md has the frames).
import type { ChatTransport, TurnRequest, TurnResult } from './types.js';

export interface SessionUpdate {
  session_id: string;
  update_type: string;
  connection_id?: string;
  typing?: boolean;
  message_count?: number;
  last_message_preview?: string;
}

export type SocketState = 'closed' | 'open' | 'joined';

interface ServerMessage extends Partial<SessionUpdate> {
  type: string;
  text?: string;
  message?: string;
  full_response?: string;
}

interface PendingTurn {
  resolve(result: TurnResult): void;
  reject(error: Error): void;
  onChunk(text: string): void;
  fullText: string;
  sessionId: string;
  isNewSession: boolean;
}

export class ChatSocket implements ChatTransport {
  readonly name = 'websocket';
  readonly label = 'WebSocket';
  readonly streams = true;

  connectionId: string | null = null;
  private sessionId: string | null = null;
  private socket: WebSocket | null = null;
  private ready: Promise<void> | null = null;
  // One turn at a time: the page sends the next message only after the reply.
  private pending: PendingTurn | null = null;
  // join_session requests not answered yet. The server answers a join before it reads the next message, so while
  // one is in flight the next session_joined or error is the join's, never the turn's ("Session not found" for a
  // session the server does not know must not fail the message sent right after: that one is get-or-create).
  private joinsInFlight = 0;

  constructor(
    private readonly onUpdate: (update: SessionUpdate) => void,
    private readonly onState: (state: SocketState) => void,
  ) {}

  connect(): Promise<void> {
    if (this.ready) return this.ready;
    this.ready = new Promise<void>((resolve, reject) => {
      const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
      const socket = new WebSocket(`${scheme}://${location.host}/websocket/ws`);
      this.socket = socket;
      socket.onmessage = (e: MessageEvent<string>) => {
        const message = JSON.parse(e.data) as ServerMessage;
        if (message.type === 'connected') {
          this.connectionId = message.connection_id ?? null;
          this.onState('open');
          if (this.sessionId) this.postJoin(this.sessionId);
          resolve();
        } else {
          this.dispatch(message);
        }
      };
      socket.onclose = () => {
        this.ready = null;
        this.socket = null;
        this.joinsInFlight = 0;
        this.onState('closed');
        this.pending?.reject(new Error('The WebSocket closed'));
        this.pending = null;
        reject(new Error('The WebSocket closed'));
      };
    });
    return this.ready;
  }

  /** Listens to a session's updates (null: to none). */
  join(sessionId: string | null): void {
    const open = this.socket?.readyState === WebSocket.OPEN;
    if (sessionId !== this.sessionId && open) this.onState('open');
    this.sessionId = sessionId;
    if (open && sessionId) this.postJoin(sessionId);
  }

  typing(active: boolean): void {
    if (this.sessionId) this.post({ type: active ? 'typing_start' : 'typing_stop', session_id: this.sessionId });
  }

  async send({ sessionId, message, onChunk }: TurnRequest): Promise<TurnResult> {
    await this.connect();
    return new Promise<TurnResult>((resolve, reject) => {
      this.pending = { resolve, reject, onChunk, fullText: '', sessionId, isNewSession: false };
      this.post({ type: 'chat', message, session_id: sessionId });
    });
  }

  private postJoin(sessionId: string): void {
    this.joinsInFlight++;
    this.post({ type: 'join_session', session_id: sessionId });
  }

  private post(message: object): void {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  private dispatch(message: ServerMessage): void {
    const turn = this.pending;
    switch (message.type) {
      case 'session_update':
        this.onUpdate(message as SessionUpdate);
        break;
      case 'session_joined':
        this.joinsInFlight = Math.max(0, this.joinsInFlight - 1);
        if (message.session_id === this.sessionId) this.onState('joined');
        break;
      case 'session_created':
        // Within a turn: the session it named was unknown, and the server started this one (get-or-create).
        if (turn && message.session_id) {
          turn.isNewSession = true;
          turn.sessionId = message.session_id;
          this.sessionId = message.session_id;
        }
        this.onState('joined');
        break;
      case 'chunk':
        if (turn && message.text) {
          turn.fullText += message.text;
          turn.onChunk(message.text);
        }
        break;
      case 'response_complete':
        this.pending = null;
        turn?.resolve({
          fullText: message.full_response ?? turn.fullText,
          messageCount: message.message_count,
          sessionId: message.session_id ?? turn.sessionId,
          isNewSession: turn.isNewSession,
        });
        break;
      case 'response_cancelled':
        this.pending = null;
        turn?.reject(new Error('Response cancelled'));
        break;
      case 'error':
        if (this.joinsInFlight > 0) {
          // The answer to a join (a session that is gone): not this page's concern, and not the turn's.
          this.joinsInFlight--;
          break;
        }
        if (turn) {
          this.pending = null;
          turn.reject(new Error(message.message ?? 'The reply failed'));
        }
        break;
    }
  }
}
