import { KeyCache } from './key-cache';

describe('KeyCache', () => {
  it('forgets an entry after its time to live', () => {
    const cache = new KeyCache<string>(1000, 10);
    cache.set('h', 'record', 0, cache.generation);
    expect(cache.get('h', 999)).toBe('record');
    expect(cache.get('h', 1000)).toBeUndefined();
  });

  it('remembers unknown keys as null', () => {
    const cache = new KeyCache<string>(1000, 10);
    cache.set('h', null, 0, cache.generation);
    expect(cache.get('h', 10)).toBeNull();
    expect(cache.get('other', 10)).toBeUndefined();
  });

  it('never holds more than its bound, pushing the oldest out', () => {
    const cache = new KeyCache<string>(1000, 3);
    for (let i = 0; i < 100; i++) cache.set(`h${i}`, null, 0, cache.generation);
    expect(cache.size).toBe(3);
    expect(cache.get('h99', 1)).toBeNull();
    expect(cache.get('h0', 1)).toBeUndefined();
  });

  it('drops everything on clear, and a look-up begun before the clear is not stored', () => {
    const cache = new KeyCache<string>(1000, 10);
    cache.set('a', 'old', 0, cache.generation);
    const before = cache.generation;
    cache.clear();
    expect(cache.get('a', 1)).toBeUndefined();
    cache.set('a', 'read before the change', 1, before);
    expect(cache.get('a', 2)).toBeUndefined();
    cache.set('a', 'fresh', 2, cache.generation);
    expect(cache.get('a', 3)).toBe('fresh');
  });
});
