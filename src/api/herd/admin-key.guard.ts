import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { HerdError } from '../../common/herd-error';
import { HERD_CONFIG, type HerdConfig } from '../../config/herd-config';
import { adminAccess } from '../../security/access';

/**
 * Admin routes (model admin, changes under /herd/nodes) need HERD_ADMIN_KEY (Bearer or X-Herd-Admin-Key):
 * 401 when it is missing or wrong. With no key configured they are open only while Herd listens on loopback,
 * and 403 otherwise.
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  constructor(@Inject(HERD_CONFIG) private readonly config: HerdConfig) {}

  canActivate(ctx: ExecutionContext): boolean {
    const req = ctx.switchToHttp().getRequest<Request>();
    switch (adminAccess(this.config, req.headers)) {
      case 'granted':
        return true;
      case 'locked':
        throw new HerdError(
          403,
          'HERD_FORBIDDEN',
          `herd: admin routes are locked because HERD_ADMIN_KEY is not set and Herd listens on ${this.config.host}, not loopback: set HERD_ADMIN_KEY and send Authorization: Bearer <key>`,
        );
      case 'missing':
        throw new HerdError(401, 'HERD_UNAUTHORIZED', 'herd: admin key required (Authorization: Bearer <HERD_ADMIN_KEY>)');
      case 'wrong':
        throw new HerdError(401, 'HERD_UNAUTHORIZED', 'herd: wrong admin key (Authorization: Bearer <HERD_ADMIN_KEY>)');
    }
  }
}
