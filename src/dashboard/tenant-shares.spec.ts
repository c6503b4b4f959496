import type { TenantService } from '../usage/recent-service';
import { MAX_ROWS, tenantShares } from './tenant-shares';

const served = (tenant: string, promptTokens: number, outputTokens: number, weight = 1): TenantService => ({ tenant, requests: 1, promptTokens, outputTokens, weight });

describe('tenantShares', () => {
  it('weighs service as the fair-share counter does and sets it against each weight share', () => {
    const view = tenantShares([served('a', 100, 100), served('b', 0, 50, 3)], new Map([['b', 4]]), 300);
    expect(view).toEqual({
      windowSeconds: 300,
      more: 0,
      rows: [
        { tenant: 'a', requests: 1, promptTokens: 100, outputTokens: 100, service: 300, serviceShare: 0.75, weight: 1, weightShare: 0.25, waiting: 0 },
        { tenant: 'b', requests: 1, promptTokens: 0, outputTokens: 50, service: 100, serviceShare: 0.25, weight: 3, weightShare: 0.75, waiting: 4 },
      ],
    });
  });

  it('lists tenants that only wait, and says nothing of queues Redis did not report', () => {
    const waitingOnly = tenantShares([], new Map([['c', 2]]), 300);
    expect(waitingOnly.rows).toEqual([{ tenant: 'c', requests: 0, promptTokens: 0, outputTokens: 0, service: 0, serviceShare: null, weight: 1, weightShare: 1, waiting: 2 }]);
    expect(tenantShares([served('a', 1, 1)], undefined, 300).rows[0].waiting).toBeNull();
    expect(tenantShares(undefined, undefined, 300)).toEqual({ windowSeconds: 300, rows: [], more: 0 });
  });

  it('keeps the most served tenants when there are too many to show', () => {
    const many = Array.from({ length: MAX_ROWS + 5 }, (_, i) => served(`t${i}`, i, 0));
    const view = tenantShares(many, undefined, 300);
    expect(view.rows).toHaveLength(MAX_ROWS);
    expect(view.more).toBe(5);
    expect(view.rows[0].tenant).toBe(`t${MAX_ROWS + 4}`);
  });
});
