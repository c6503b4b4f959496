import { Logger } from '../common/logger';
import { RedisWatchdog, isRedisTimeout } from './redis-watchdog';

const quiet = new Logger('error', 'pretty', () => undefined);
const timedOut = (): Error => new Error('Command timed out');

/** A watchdog over a scripted PING: each probe takes the next outcome (an Error rejects, anything else answers). */
function scripted(timeoutMs = 100): { dog: RedisWatchdog; next: (outcome: unknown) => void; downs: string[]; ups: number[] } {
  let outcome: unknown = 'PONG';
  const dog = new RedisWatchdog(() => (outcome instanceof Error ? Promise.reject(outcome) : Promise.resolve(outcome)), timeoutMs, quiet);
  const downs: string[] = [];
  const ups: number[] = [];
  dog.onDown((reason) => downs.push(reason));
  dog.onUp(() => ups.push(Date.now()));
  return { dog, next: (o) => (outcome = o), downs, ups };
}

describe('RedisWatchdog', () => {
  it('recognises the ioredis command timeout', () => {
    expect(isRedisTimeout(timedOut())).toBe(true);
    expect(isRedisTimeout(new Error('Connection is closed.'))).toBe(false);
    expect(isRedisTimeout('Command timed out')).toBe(false);
  });

  it('is down after one PING that timed out, says why, and up again after one answer', async () => {
    const { dog, next, downs, ups } = scripted(100);
    expect(await dog.probe()).toEqual({ ok: true });
    next(timedOut());
    expect(await dog.probe()).toEqual({ ok: false, message: 'Redis did not answer within 100 ms' });
    expect(dog.isDown).toBe(true);
    expect(downs).toEqual(['Redis did not answer within 100 ms']);
    // Known down: /health gets the reason without another PING.
    next('PONG');
    expect(await dog.check()).toEqual({ ok: false, message: 'Redis did not answer within 100 ms' });
    expect(await dog.probe()).toEqual({ ok: true });
    expect(dog.isDown).toBe(false);
    expect(ups).toHaveLength(1);
  });

  it('gives a dropped connection one command timeout to come back before calling Redis down', async () => {
    const { dog, next, downs } = scripted(60);
    next(new Error('Connection is closed.'));
    expect(await dog.probe()).toEqual({ ok: false, message: 'Redis does not answer PING (Connection is closed.)' });
    expect(dog.isDown).toBe(false);
    await new Promise((r) => setTimeout(r, 70));
    await dog.probe();
    expect(dog.isDown).toBe(true);
    expect(downs).toHaveLength(1);
    // While it stays down every failed PING tells the listeners again (requests that started waiting since).
    await dog.probe();
    expect(downs).toHaveLength(2);
  });

  it('shares one PING between callers', async () => {
    let calls = 0;
    const dog = new RedisWatchdog(async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
    }, 100, quiet);
    await Promise.all([dog.probe(), dog.probe(), dog.check()]);
    expect(calls).toBe(1);
  });

  it('runs a clean-up after a PING sent after it was registered is answered, and again after a failure', async () => {
    const { dog, next } = scripted(100);
    const ran: string[] = [];
    let failOnce = true;
    next(timedOut());
    dog.afterRecovery(async () => {
      ran.push('release');
      if (failOnce) {
        failOnce = false;
        throw new Error('Command timed out');
      }
    });
    await dog.probe();
    expect(ran).toEqual([]);
    next('PONG');
    await dog.probe();
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual(['release']);
    expect(dog.pendingRecoveryTasks()).toBe(1); // it failed: kept for the next answer
    await dog.probe();
    await new Promise((r) => setImmediate(r));
    expect(ran).toEqual(['release', 'release']);
    expect(dog.pendingRecoveryTasks()).toBe(0);
  });
});
