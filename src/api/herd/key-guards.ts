import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { HerdError } from '../../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../../config/herd-config';
import { adminAccess, nodeAccess, type Access } from '../../security/access';

/** What a refused request is told: which routes, which variable opens them, and what else to know. */
interface Lock {
  what: string;
  variable: string;
  client: string;
  wrongHint?: string;
}

/** 403 when the routes are locked (no key, not loopback), 401 when the key is missing or wrong. */
function enforce(access: Access, lock: Lock, host: string): true {
  switch (access) {
    case 'granted':
      return true;
    case 'locked':
      throw new HerdError(403, 'HERD_FORBIDDEN', `herd: ${lock.what} are locked because ${lock.variable} is not set and Herd listens on ${host}, not loopback: set ${lock.variable} and ${lock.client} Authorization: Bearer <key>`);
    case 'missing':
      throw new HerdError(401, 'HERD_UNAUTHORIZED', `herd: ${lock.what === 'admin routes' ? 'admin' : 'node'} key required (Authorization: Bearer <${lock.variable}>)`);
    case 'wrong':
      throw new HerdError(401, 'HERD_UNAUTHORIZED', `herd: wrong ${lock.what === 'admin routes' ? 'admin' : 'node'} key (Authorization: Bearer <${lock.variable}>${lock.wrongHint ?? ''})`);
  }
}

/**
 * Admin routes (model admin, changes under /herd/nodes) need HERD_ADMIN_KEY (Bearer or X-Herd-Admin-Key). With
 * no key configured they are open only while Herd listens on loopback.
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  constructor(@Inject(HERD_CONFIG) private readonly config: HerdConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const access = adminAccess(this.config, ctx.switchToHttp().getRequest<Request>().headers);
    return enforce(access, { what: 'admin routes', variable: 'HERD_ADMIN_KEY', client: 'send' }, this.config.host);
  }
}

/**
 * Node self-registration (POST /herd/nodes/heartbeat) needs HERD_NODE_KEY (Bearer or X-Herd-Node-Key), never the
 * admin key. With no node key configured heartbeats are accepted only while Herd listens on loopback.
 */
@Injectable()
export class NodeKeyGuard implements CanActivate {
  constructor(@Inject(HERD_CONFIG) private readonly config: HerdConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const access = nodeAccess(this.config, ctx.switchToHttp().getRequest<Request>().headers);
    return enforce(access, { what: 'node heartbeats', variable: 'HERD_NODE_KEY', client: 'have nodes send', wrongHint: '; the admin key does not open heartbeats' }, this.config.host);
  }
}
