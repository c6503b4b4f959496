import { doneBy } from './batch-client';

describe('doneBy', () => {
  const samples = [
    { atMs: 0, done: 0 },
    { atMs: 100, done: 5 },
    { atMs: 200, done: 12 },
  ];

  it('is the progress of the last sample at or before the moment', () => {
    expect(doneBy(samples, 150)).toBe(5);
    expect(doneBy(samples, 200)).toBe(12);
    expect(doneBy(samples, 10_000)).toBe(12);
  });

  it('is 0 before the first sample', () => {
    expect(doneBy(samples, -1)).toBe(0);
  });
});
