export type TransportName = 'rest' | 'ndjson' | 'sse' | 'websocket' | 'grpc-web';

export const transportNames: readonly TransportName[] = ['rest', 'ndjson', 'sse', 'websocket', 'grpc-web'];

export interface TurnRequest {
  sessionId: string;
  message: string;
  /** Each piece of the reply as it arrives (once, with the whole reply, for REST). */
  onChunk(text: string): void;
}

export interface TurnResult {
  fullText: string;
  messageCount?: number;
  /** The session the reply was stored in. */
  sessionId: string;
  /**
   * The server did not know the session it was sent and started a new one (the original's get-or-create; gRPC, which
   * has no get-or-create, is told NOT_FOUND and the page's gRPC-Web client starts the new session itself).
   */
  isNewSession: boolean;
}

export interface ChatTransport {
  readonly name: TransportName;
  readonly label: string;
  /** False for REST: the whole reply arrives at once. */
  readonly streams: boolean;
  send(request: TurnRequest): Promise<TurnResult>;
}

export const isTransportName = (value: unknown): value is TransportName =>
  typeof value === 'string' && (transportNames as readonly string[]).includes(value);
