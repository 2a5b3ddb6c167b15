import { describe, expect, it } from 'vitest';
import { ms, relativeTime, shortTitle } from './time.js';

const now = new Date('2026-05-20T12:00:00Z');
const ago = (milliseconds: number) => new Date(now.getTime() - milliseconds);

describe('relativeTime', () => {
  it.each([
    [0, 'just now'],
    [44_000, 'just now'],
    [-5_000, 'just now'],
    [60_000, '1 min ago'],
    [5 * 60_000, '5 min ago'],
    [59 * 60_000, '59 min ago'],
    [3 * 3_600_000, '3 h ago'],
    [23 * 3_600_000, '23 h ago'],
    [30 * 3_600_000, 'yesterday'],
    [4 * 86_400_000, '4 days ago'],
  ])('%i ms ago is "%s"', (milliseconds, expected) => {
    expect(relativeTime(ago(milliseconds), now)).toBe(expected);
  });

  it('gives a date past a week, with the year when it is another year', () => {
    expect(relativeTime(ago(10 * 86_400_000), now)).toMatch(/10/);
    expect(relativeTime(new Date('2024-03-01T12:00:00Z'), now)).toMatch(/2024/);
  });

  it('reads the server\'s ISO-8601 strings and says nothing for a bad one', () => {
    expect(relativeTime('2026-05-20T11:55:00+00:00', now)).toBe('5 min ago');
    expect(relativeTime('not a date', now)).toBe('');
  });
});

describe('ms', () => {
  it('shows milliseconds below a second, seconds above', () => {
    expect(ms(112.4)).toBe('112 ms');
    expect(ms(1310)).toBe('1.31 s');
    expect(ms(null)).toBe('–');
  });
});

describe('shortTitle', () => {
  it('is the message on one line, cut at a word to 60 characters, like the server\'s titles', () => {
    expect(shortTitle('  two\nlines ')).toBe('two lines');
    expect(shortTitle('Plan a three-day trip to Lisbon with a focus on tiles, bakeries and old trams please'))
      .toBe('Plan a three-day trip to Lisbon with a focus on tiles,…');
  });
});
