import { describeModel } from './model-catalog';
import { ModelStore } from './model-store';

function storeWith(names: string[], maxLoaded: number): { store: ModelStore; loads: string[]; finish: () => void } {
  const loads: string[] = [];
  const pending: Array<() => void> = [];
  let clock = 1000;
  const store = new ModelStore(
    maxLoaded,
    (entry) => {
      loads.push(entry.name);
      return new Promise<void>((resolve) => pending.push(resolve));
    },
    () => clock++,
  );
  for (const name of names) store.put(describeModel({ name }, new Date(0)));
  return { store, loads, finish: () => pending.splice(0).forEach((resolve) => resolve()) };
}

const never = new AbortController().signal;

describe('ModelStore', () => {
  it('shares one load between concurrent requests for the same cold model', async () => {
    const { store, loads, finish } = storeWith(['a', 'b'], 3);
    store.pin('a:latest', 60_000);
    store.pin('a:latest', 60_000);
    const first = store.ensureLoaded('a:latest', never);
    const second = store.ensureLoaded('a:latest', never);
    expect(loads).toEqual(['a:latest']);
    finish();
    await expect(first).resolves.toBe(true);
    await expect(second).resolves.toBe(true);
    await expect(store.ensureLoaded('a:latest', never)).resolves.toBe(false);
  });

  it('evicts the least recently used idle model, never a pinned one', async () => {
    const { store, finish } = storeWith(['a', 'b', 'c'], 2);
    store.preload(['a', 'b']);
    store.pin('a:latest', 60_000); // a is busy and was used last
    store.pin('c:latest', 60_000);
    const loading = store.ensureLoaded('c:latest', never);
    finish();
    await loading;
    const resident = store.residentModels().map((r) => r.entry.name).sort();
    expect(resident).toEqual(['a:latest', 'c:latest']);
  });

  it('unloads after keep_alive 0 and when keep_alive expires', async () => {
    let now = 0;
    const store = new ModelStore(3, async () => undefined, () => now);
    store.put(describeModel({ name: 'a' }, new Date(0)));
    store.put(describeModel({ name: 'b' }, new Date(0)));
    store.preload(['a', 'b']);
    store.pin('a:latest', 0);
    store.unpin('a:latest');
    expect(store.isResident('a:latest')).toBe(false);
    store.pin('b:latest', 1000);
    store.unpin('b:latest');
    now = 999;
    expect(store.isResident('b:latest')).toBe(true);
    now = 1001;
    expect(store.isResident('b:latest')).toBe(false);
  });
});
