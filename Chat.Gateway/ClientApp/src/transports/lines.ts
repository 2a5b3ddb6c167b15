/**
 * The lines of a streamed body (NDJSON): each complete line as soon as its newline arrives, a last line without one
 * at the end, blank lines skipped. A line split across reads, or a multi-byte character split across reads, is
 * joined before it is yielded.
 */
export async function* readLines(body: ReadableStream<Uint8Array>): AsyncGenerator<string, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) yield line;
      }
    }
    const last = (buffer + decoder.decode()).trim();
    if (last) yield last;
  } finally {
    // Stop the download when the caller stops reading (a 'complete' line, an error).
    reader.cancel().catch(() => {});
  }
}
