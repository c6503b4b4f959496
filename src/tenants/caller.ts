/**
 * Who a request is charged to. Every inference request has a tenant: with HERD_AUTH=keys the tenant of the API
 * key it carries; with keys off the X-Herd-Tenant header, else the one shared tenant.
 */

/** The tenant of requests that name none (keys off, no X-Herd-Tenant header). */
export const SHARED_TENANT = 'shared';

/** What the pipeline learned about the caller from the request, before it is checked. */
export interface CallerClaims {
  /** `Authorization: Bearer <key>` (or X-Api-Key), when sent. */
  credential?: string;
  /** X-Herd-Tenant, when sent (only honoured with keys off). */
  tenantHeader?: string;
  /** The model asked for, normalised. */
  model: string;
  /** The priority the request asked for (1 first .. 10 last). */
  priority: number;
}

/** The caller once admitted: its tenant, its share weight, and the priority it runs at. */
export interface Caller {
  tenant: string;
  /** Share of the herd relative to other tenants (fair share inside a priority level). */
  weight: number;
  /** The priority the request runs at: the asked one, clamped to the key's floor. */
  priority: number;
  /** The API key's id (never the key), when keys are on. */
  keyId?: string;
  /** Response headers that tell the client how it was admitted (e.g. a clamped priority). */
  headers: Record<string, string>;
}

const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,63}$/;

/** A tenant name as Herd accepts it: 1-64 letters, digits and `_ . @ : -`, starting with a letter or digit. */
export function isTenantName(name: string): boolean {
  return TENANT_NAME.test(name) && name !== '__proto__' && name !== 'constructor' && name !== 'prototype';
}
