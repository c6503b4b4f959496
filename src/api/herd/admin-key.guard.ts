import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { timingSafeEqual } from 'node:crypto';
import { HerdError } from '../../common/herd-error';
import { HerdCore } from '../../core/herd-core';

/** Admin routes need the configured key (Bearer or X-Herd-Admin-Key); with no key configured they are open. */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  constructor(@Inject(HerdCore) private readonly core: HerdCore) {}

  canActivate(ctx: ExecutionContext): boolean {
    const expected = this.core.config.adminKey;
    if (!expected) return true;
    const req = ctx.switchToHttp().getRequest<Request>();
    const given = req.headers.authorization?.replace(/^Bearer\s+/i, '') ?? (req.headers['x-herd-admin-key'] as string | undefined) ?? '';
    const a = Buffer.from(given);
    const b = Buffer.from(expected);
    if (a.length === b.length && timingSafeEqual(a, b)) return true;
    throw new HerdError(401, 'HERD_UNAUTHORIZED', 'herd: admin key required (Authorization: Bearer <HERD_ADMIN_KEY>)');
  }
}
