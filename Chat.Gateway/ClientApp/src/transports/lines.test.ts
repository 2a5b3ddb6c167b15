import { describe, expect, it } from 'vitest';
import { readLines } from './lines.js';

function streamOf(...parts: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(typeof part === 'string' ? encoder.encode(part) : part);
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(stream)) lines.push(line);
  return lines;
}

describe('readLines', () => {
  it('yields each line once its newline arrives, joining lines split across reads', async () => {
    expect(await collect(streamOf('{"a":1}\n{"b":', '2}\n', '\n{"c":3}\r\n'))).toEqual(['{"a":1}', '{"b":2}', '{"c":3}']);
  });

  it('yields a last line that has no newline', async () => {
    expect(await collect(streamOf('one\ntwo'))).toEqual(['one', 'two']);
  });

  it('joins a multi-byte character split across reads', async () => {
    const bytes = new TextEncoder().encode('"é€"\n');
    expect(await collect(streamOf(bytes.slice(0, 2), bytes.slice(2, 5), bytes.slice(5)))).toEqual(['"é€"']);
  });

  it('stops the download when the reader stops early', async () => {
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode('line\n'));
      },
      cancel() {
        cancelled = true;
      },
    });
    for await (const line of readLines(stream)) {
      expect(line).toBe('line');
      break;
    }
    expect(cancelled).toBe(true);
  });
});
