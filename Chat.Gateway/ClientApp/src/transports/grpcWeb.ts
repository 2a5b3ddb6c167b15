// gRPC-Web through the gateway's /grpc prefix, with the client generated from Chat.Contracts/Protos/chat.proto
// (src/gen, by buf + protoc-gen-es at build time) and Connect's gRPC-Web transport (binary protobuf over fetch).
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { ChatResponse_ResponseType as Kind, ChatService } from '../gen/chat_pb.js';
import type { ChatTransport, TurnRequest, TurnResult } from './types.js';
import type { SessionUpdate } from './websocket.js';

const client = createClient(
  ChatService,
  createGrpcWebTransport({ baseUrl: `${location.origin}/grpc`, useBinaryFormat: true }),
);

const notFound = Symbol('session not found');

/** One SendMessage call: its reply, or notFound when the service does not know the session. */
async function sendOnce({ sessionId, message, onChunk }: TurnRequest): Promise<TurnResult | typeof notFound> {
  let fullText = '';
  for await (const response of client.sendMessage({ sessionId, message })) {
    switch (response.type) {
      case Kind.CHUNK:
        if (response.chunkText) {
          fullText += response.chunkText;
          onChunk(response.chunkText);
        }
        break;
      case Kind.ERROR:
        if (response.errorCode === 'NOT_FOUND' && fullText === '') return notFound;
        throw new Error(response.errorMessage || 'The reply failed');
      case Kind.RESPONSE_COMPLETE: {
        const stored = response.sessionId || sessionId;
        return { fullText: response.fullResponse || fullText, messageCount: response.messageCount, sessionId: stored, isNewSession: stored !== sessionId };
      }
    }
  }
  throw new Error('The call ended before the reply completed');
}

export const grpcWeb: ChatTransport & {
  watch(sessionId: string, signal: AbortSignal, onUpdate: (u: SessionUpdate) => void, onOpen: () => void): Promise<void>;
} = {
  name: 'grpc-web',
  label: 'gRPC-Web',
  streams: true,

  /**
   * The original's gRPC chat is not get-or-create: an unknown session is an ERROR (NOT_FOUND). The page keeps the
   * behaviour the HTTP transports have: it creates a session (CreateSession) and sends the message there, once.
   */
  async send(request: TurnRequest): Promise<TurnResult> {
    const first = await sendOnce(request);
    if (first !== notFound) return first;
    const created = await client.createSession({});
    if (!created.success || !created.sessionId) throw new Error(created.message || 'Could not start a new session');
    const second = await sendOnce({ ...request, sessionId: created.sessionId });
    if (second === notFound) throw new Error('Session not found');
    return { ...second, isNewSession: true };
  },

  /** The session's SESSION_UPDATEs until the signal aborts (a STATUS first, once subscribed); reconnects after a drop. */
  async watch(sessionId, signal, onUpdate, onOpen): Promise<void> {
    while (!signal.aborted) {
      try {
        for await (const response of client.watchSession({ sessionId }, { signal })) {
          if (response.type === Kind.STATUS) {
            onOpen(); // subscribed: nothing after this is missed
          } else if (response.type === Kind.SESSION_UPDATE) {
            const data = JSON.parse(response.updateData || '{}') as Partial<SessionUpdate>;
            onUpdate({ ...data, session_id: response.sessionId, update_type: response.updateType, message_count: response.messageCount || data.message_count });
          }
        }
      } catch (error) {
        if (signal.aborted || (error instanceof ConnectError && error.code === Code.NotFound)) return; // left, or gone
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  },
};
