import { describe, expect, it } from 'vitest';
import { TimingStats } from './stats.js';
import { transportNames } from './transports/types.js';

describe('TimingStats', () => {
  it('averages per transport, in the order asked, only for transports with replies', () => {
    const stats = new TimingStats();
    stats.record('sse', { ttft: 100, total: 1000 });
    stats.record('rest', { ttft: 900, total: 900 });
    stats.record('sse', { ttft: 300, total: 2000 });

    expect(stats.rows(transportNames)).toEqual([
      { transport: 'rest', n: 1, ttft: 900, total: 900 },
      { transport: 'sse', n: 2, ttft: 200, total: 1500 },
    ]);
  });

  it('has no rows before a reply', () => {
    expect(new TimingStats().rows(transportNames)).toEqual([]);
  });
});
