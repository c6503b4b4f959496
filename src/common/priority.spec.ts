import { HerdError } from './herd-error';
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

  it.each(['0', '11', '2.5', 'high'])('rejects header %p with a 400', (header) => {
    expect(() => resolvePriority(undefined, header)).toThrow(HerdError);
    try {
      resolvePriority(undefined, header);
    } catch (err) {
      expect((err as HerdError).status).toBe(400);
    }
  });
});
