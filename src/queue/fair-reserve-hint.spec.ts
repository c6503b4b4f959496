import { quietOnReplica } from './fair-reserve-hint';

describe('quietOnReplica', () => {
  const none = (): number => 0;

  it('takes the quiet tenants Redis listed', () => {
    const recent = [
      { tenant: 'a', running: 5, waiting: 20 },
      { tenant: 'b', running: 1, waiting: 0 },
    ];
    expect(quietOnReplica(recent, [], none)).toEqual(['b']);
  });

  it('adds a tenant whose request ended here since the last read', () => {
    expect(quietOnReplica([], ['b'], none)).toEqual(['b']);
  });

  it('does not add a tenant Redis listed as busy because one of its requests ended here', () => {
    expect(quietOnReplica([{ tenant: 'a', running: 3, waiting: 9 }], ['a'], none)).toEqual([]);
  });

  it('drops a tenant with more than one request under way here now, whatever Redis said', () => {
    const here = (t: string): number => (t === 'b' ? 2 : 1);
    expect(quietOnReplica([{ tenant: 'b', running: 0, waiting: 0 }], ['c'], here)).toEqual(['c']);
  });
});
