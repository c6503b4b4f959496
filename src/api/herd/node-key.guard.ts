import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { HerdError } from '../../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../../config/herd-config';
import { nodeAccess } from '../../security/access';

/**
 * Node self-registration (POST /herd/nodes/heartbeat) needs HERD_NODE_KEY (Bearer or X-Herd-Node-Key), never
 * the admin key: 401 when it is missing or wrong. With no node key configured heartbeats are accepted only
 * while Herd listens on loopback, and 403 otherwise.
 */
@Injectable()
export class NodeKeyGuard implements CanActivate {
  constructor(@Inject(HERD_CONFIG) private readonly config: HerdConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<Request>();
    switch (nodeAccess(this.config, req.headers)) {
      case 'granted':
        return true;
      case 'locked':
        throw new HerdError(
          403,
          'HERD_FORBIDDEN',
          `herd: node heartbeats are locked because HERD_NODE_KEY is not set and Herd listens on ${this.config.host}, not loopback: set HERD_NODE_KEY and have nodes send Authorization: Bearer <key>`,
        );
      case 'missing':
        throw new HerdError(401, 'HERD_UNAUTHORIZED', 'herd: node key required (Authorization: Bearer <HERD_NODE_KEY>)');
      case 'wrong':
        throw new HerdError(401, 'HERD_UNAUTHORIZED', 'herd: wrong node key (Authorization: Bearer <HERD_NODE_KEY>; the admin key does not open heartbeats)');
    }
  }
}
