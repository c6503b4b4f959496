import 'reflect-metadata';
import { startHerd } from './bootstrap';
import { loadConfigOrExit } from './config/load-config';
import { Logger } from './common/logger';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = new Logger(config.logLevel, config.logFormat);
  let herd;
  try {
    herd = await startHerd(config, log);
  } catch (err) {
    log.error((err as Error).message);
    process.exit(1);
  }
  const running = herd;
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down: finishing running requests', { signal, pending: running.core.inference.pendingCount() });
    running.close().then(
      () => process.exit(0),
      (err: Error) => {
        log.error('shutdown failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
