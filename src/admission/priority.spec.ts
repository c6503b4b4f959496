import { HerdError } from '../common/herd-error';
import { resolvePriority } from './priority';

describe('resolvePriority', () => {
  it.each([
    [undefined, undefined, 5],
    [3, '9', 3],
    [undefined, '1', 1],
    [undefined, ['10'], 10],
    [undefined, '', 5],
  ])('body %p header %p -> %p', (body, header, expected) => {
    expect(resolvePriority(body, header)).toBe(expected);
  });

  it.each([0, -5, 11, 2.5, '3', null, true, [1], { valueOf: 1 }, Number.NaN, Infinity])('rejects body priority %p with a 400 whatever its shape', (body) => {
    expect(() => resolvePriority(body, undefined)).toThrow(expect.objectContaining({ status: 400 }) as Error);
  });

  it.each(['0', '11', '2.5', 'high', '0x3', '3e0', '-1', '1, 2', '01'])('rejects header %p with a 400', (header) => {
    expect(() => resolvePriority(undefined, header)).toThrow(HerdError);
    try {
      resolvePriority(undefined, header);
    } catch (err) {
      expect((err as HerdError).status).toBe(400);
    }
  });
});
