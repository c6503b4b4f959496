import { Controller, Get, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { usageCsv } from '../../usage/usage-csv';
import { usageRange } from '../../usage/usage-days';
import type { UsageReport } from '../../usage/usage-rows';
import { UsageService } from '../../usage/usage.service';
import { AdminKeyGuard } from './key-guards';

/**
 * `GET /herd/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`: per tenant and UTC day, JSON by default, CSV with
 * `Accept: text/csv`. Admin key required (tenant names and volumes are the operator's business).
 */
@Controller('herd/usage')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Get()
  @UseGuards(AdminKeyGuard)
  async report(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<UsageReport | string> {
    const range = usageRange(req.query, Date.now());
    const rows = await this.usage.rows(range);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Vary', 'Accept');
    if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
      res.setHeader('Content-Type', 'text/csv; charset=utf-8');
      res.setHeader('Content-Disposition', `attachment; filename="herd-usage-${range.from}-to-${range.to}.csv"`);
      return usageCsv(rows);
    }
    return { from: range.from, to: range.to, rows };
  }
}
