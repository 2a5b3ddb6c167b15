// The few protobuf messages of chat.proto the page needs, encoded and decoded by hand, and gRPC-Web framing.
// Wire format: each field is a varint key (field number << 3 | wire type) then a varint (type 0), 8 bytes (type 1),
// or a varint length and that many bytes (type 2). Defaults (0, "", false) are left out, as protobuf does.

const utf8 = new TextEncoder();
const text = new TextDecoder();

function varint(bytes, value) {
  // Non-negative values only (the page sends enums and strings): 7 bits per byte, high bit = more follows.
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
}

function stringField(bytes, field, value) {
  if (!value) return;
  const encoded = utf8.encode(value);
  varint(bytes, (field << 3) | 2);
  varint(bytes, encoded.length);
  for (const b of encoded) bytes.push(b);
}

function varintField(bytes, field, value) {
  if (!value) return;
  varint(bytes, field << 3);
  varint(bytes, value);
}

export const RequestType = { MESSAGE: 0, PING: 1, TYPING_START: 2, TYPING_STOP: 3, CANCEL: 4, RESUME: 5 };
export const ResponseType = ['STATUS', 'RESPONSE_START', 'CHUNK', 'RESPONSE_COMPLETE', 'ERROR', 'PONG', 'SESSION_UPDATE'];

/** chat.ChatRequest {type=1, session_id=2, message=3} */
export function encodeChatRequest({ type = 0, sessionId = '', message = '' }) {
  const bytes = [];
  varintField(bytes, 1, type);
  stringField(bytes, 2, sessionId);
  stringField(bytes, 3, message);
  return Uint8Array.from(bytes);
}

/** chat.SessionInfoRequest {session_id=1} */
export function encodeSessionInfoRequest(sessionId) {
  const bytes = [];
  stringField(bytes, 1, sessionId);
  return Uint8Array.from(bytes);
}

const responseFields = {
  1: 'type', 2: 'session_id', 3: 'status_message', 4: 'context_messages', 5: 'chunk_text', 6: 'chunk_number',
  7: 'is_final', 8: 'total_chunks', 9: 'processing_time', 10: 'message_count', 11: 'error_message', 12: 'update_type',
  13: 'update_data', 14: 'timestamp', 15: 'reply_id', 16: 'finish_reason', 17: 'input_tokens', 18: 'output_tokens',
  19: 'time_to_first_token', 20: 'full_response', 21: 'error_code', 22: 'emitted_at',
};

/** chat.ChatResponse, as a plain object with the proto's field names and the type as its enum name. */
export function decodeChatResponse(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = { type: 'STATUS' };
  let at = 0;
  const readVarint = () => {
    let value = 0, scale = 1, b;
    do {
      b = bytes[at++];
      value += (b & 0x7f) * scale; // arithmetic, not bit shifts: int64 values pass 2^31
      scale *= 128;
    } while (b & 0x80);
    return value;
  };
  while (at < bytes.length) {
    const key = readVarint();
    const field = Math.floor(key / 8), wire = key & 7;
    const name = responseFields[field] ?? `field_${field}`;
    if (wire === 0) {
      const value = readVarint();
      out[name] = field === 1 ? (ResponseType[value] ?? String(value)) : field === 7 ? value !== 0 : value;
    } else if (wire === 1) {
      out[name] = view.getFloat64(at, true);
      at += 8;
    } else if (wire === 2) {
      const length = readVarint();
      out[name] = text.decode(bytes.subarray(at, at + length));
      at += length;
    } else if (wire === 5) {
      at += 4;
    } else {
      throw new Error(`unsupported wire type ${wire}`);
    }
  }
  return out;
}

/** A gRPC-Web message frame: flag 0, 4-byte big-endian length, the message. */
export function frame(message) {
  const framed = new Uint8Array(5 + message.length);
  new DataView(framed.buffer).setUint32(1, message.length);
  framed.set(message, 5);
  return framed;
}

/** Reads gRPC-Web frames off a fetch body as they arrive: yields {data} per message and {trailers} at the end. */
export async function* readFrames(body) {
  const reader = body.getReader();
  let buffer = new Uint8Array(0);
  try {
    for (;;) {
      while (buffer.length >= 5) {
        const length = new DataView(buffer.buffer, buffer.byteOffset).getUint32(1);
        if (buffer.length < 5 + length) break;
        const flag = buffer[0], payload = buffer.slice(5, 5 + length);
        buffer = buffer.slice(5 + length);
        if (flag & 0x80) yield { trailers: parseTrailers(text.decode(payload)) };
        else yield { data: payload };
      }
      const { done, value } = await reader.read();
      if (done) return;
      const joined = new Uint8Array(buffer.length + value.length);
      joined.set(buffer);
      joined.set(value, buffer.length);
      buffer = joined;
    }
  } finally {
    reader.releaseLock();
  }
}

function parseTrailers(block) {
  const trailers = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return trailers;
}

export class GrpcError extends Error {
  constructor(status, message) {
    super(`gRPC status ${status}: ${message}`);
    this.status = Number(status);
  }
}

/**
 * One server-streaming call over gRPC-Web (fetch, HTTP/1.1): yields decoded ChatResponses, throws GrpcError on a
 * non-zero grpc-status (in the trailers frame, or in the headers of a trailers-only answer).
 */
export async function* serverStream(path, requestBytes, signal) {
  const response = await fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/grpc-web+proto', 'x-grpc-web': '1', accept: 'application/grpc-web+proto' },
    body: frame(requestBytes),
    signal,
  });
  if (!response.ok) throw new GrpcError(14, `HTTP ${response.status}`);
  const headerStatus = response.headers.get('grpc-status');
  if (headerStatus && headerStatus !== '0') {
    throw new GrpcError(headerStatus, decodeURIComponent(response.headers.get('grpc-message') ?? ''));
  }
  for await (const item of readFrames(response.body)) {
    if (item.data) {
      yield decodeChatResponse(item.data);
    } else {
      const status = item.trailers['grpc-status'] ?? '0';
      if (status !== '0') throw new GrpcError(status, decodeURIComponent(item.trailers['grpc-message'] ?? ''));
      return;
    }
  }
}
