import { Inject, Injectable } from '@nestjs/common';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import type { Caller } from '../tenants/caller';
import { TenantAccessService } from '../tenants/tenant-access.service';

/** What a request presented about who it is: its API key and X-Herd-Tenant. */
export interface Presented {
  credential?: string;
  tenantHeader?: string;
}

/** Who is looking at batches, files or jobs: their tenant, and whether others' are hidden (keys on). */
export interface Viewer {
  tenant: string;
  scoped: boolean;
}

/**
 * Who submits batches and jobs, and who may see them. Submitting is admitting: the caller is identified as an
 * inference request would be (TenantAccessService), once per model the work uses, and stored with it; every line
 * or job then runs as that caller. With HERD_AUTH=keys, batches, files and jobs belong to the key's tenant and are
 * a 404 for anyone else; with keys off everything is visible to everyone.
 */
@Injectable()
export class BatchCallers {
  constructor(
    @Inject(HERD_CONFIG) private readonly config: HerdConfig,
    private readonly access: TenantAccessService,
  ) {}

  async callerFor(presented: Presented, models: readonly string[], priority: number): Promise<Caller> {
    let caller: Caller | undefined;
    for (const model of new Set(models)) {
      const identified = await this.access.identify({ ...presented, model, priority });
      caller ??= identified;
    }
    return caller ?? (await this.access.identify({ ...presented, model: '', priority }));
  }

  /**
   * The viewer of a request that names no model (reading, listing, cancelling, uploading). With keys on only the key
   * is checked (no model rule or rate limit applies to reading what the tenant already owns).
   */
  async viewer(presented: Presented): Promise<Viewer> {
    if (this.config.auth !== 'keys') {
      const caller = await this.access.identify({ ...presented, model: '', priority: 5 });
      return { tenant: caller.tenant, scoped: false };
    }
    return { tenant: (await this.access.authenticate(presented.credential)).tenant, scoped: true };
  }
}

/** Whether something owned by `tenant` is visible to the viewer. */
export function visibleTo(viewer: Viewer, tenant: string | undefined): boolean {
  return !viewer.scoped || tenant === viewer.tenant;
}
