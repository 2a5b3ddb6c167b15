import type { TransportName } from './transports/types.js';

export interface Timing {
  ttft: number;
  total: number;
}

export interface ComparisonRow extends Timing {
  transport: TransportName;
  n: number;
}

/** The replies' timings of this page, per transport, averaged for the comparison panel. */
export class TimingStats {
  private readonly samples = new Map<TransportName, Timing[]>();

  record(transport: TransportName, timing: Timing): void {
    const list = this.samples.get(transport) ?? [];
    list.push(timing);
    this.samples.set(transport, list);
  }

  /** One row per transport that has replies, in the given order. */
  rows(order: readonly TransportName[]): ComparisonRow[] {
    return order.flatMap((transport) => {
      const list = this.samples.get(transport);
      if (!list?.length) return [];
      const average = (key: keyof Timing) => list.reduce((sum, t) => sum + t[key], 0) / list.length;
      return [{ transport, n: list.length, ttft: average('ttft'), total: average('total') }];
    });
  }
}
