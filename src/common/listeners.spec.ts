import { Listeners } from './listeners';

describe('Listeners', () => {
  it('calls every listener in order with the arguments', () => {
    const seen: string[] = [];
    const l = new Listeners<[string]>();
    l.add((x) => seen.push(`a${x}`));
    l.add((x) => seen.push(`b${x}`));
    l.emit('1');
    expect(seen).toEqual(['a1', 'b1']);
  });

  it('keeps calling the rest when one throws, and reports what it threw', () => {
    const seen: string[] = [];
    const errors: unknown[] = [];
    const l = new Listeners<[]>((e) => errors.push(e));
    l.add(() => seen.push('first'));
    l.add(() => {
      throw new Error('boom');
    });
    l.add(() => seen.push('third'));
    expect(() => l.emit()).not.toThrow();
    expect(seen).toEqual(['first', 'third']);
    expect(errors).toEqual([new Error('boom')]);
  });

  it('survives a reporter that throws too', () => {
    const seen: string[] = [];
    const l = new Listeners<[]>(() => {
      throw new Error('reporter');
    });
    l.add(() => {
      throw new Error('boom');
    });
    l.add(() => seen.push('after'));
    expect(() => l.emit()).not.toThrow();
    expect(seen).toEqual(['after']);
  });
});
