import type { Logger } from '../common/logger';
import { lockedRoutes } from './access';

/**
 * One line at start when routes are locked because their key is unset and Herd listens beyond loopback: a
 * warning when the admin routes are (the operator cannot change the fleet), info when only heartbeats are
 * (many fleets never use them).
 */
export function warnIfLocked(config: { adminKey?: string; nodeKey?: string; host: string }, log: Pick<Logger, 'warn' | 'info'>): void {
  const locked = lockedRoutes(config);
  if (locked.length === 0) return;
  const message = `locked because ${locked.map((l) => l.key).join(' and ')} ${locked.length > 1 ? 'are' : 'is'} not set and HOST is not loopback: ${locked.map((l) => l.routes).join('; ')} answer 403`;
  const fields = { host: config.host, hint: `set ${locked.map((l) => l.key).join(' and ')}, or listen on loopback (HOST=127.0.0.1) for a local setup` };
  if (locked.some((l) => l.key === 'HERD_ADMIN_KEY')) log.warn(message, fields);
  else log.info(message, fields);
}
