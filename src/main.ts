import 'reflect-metadata';
import { startHerdOrExit } from './bootstrap';
import { loadConfigOrExit } from './config/load-config';
import { Logger } from './common/logger';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = new Logger(config.logLevel, config.logFormat);
  const running = await startHerdOrExit(config, log);
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
