import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HerdMetrics } from './herd-metrics';

/** Prometheus scrape endpoint (text format 0.0.4). Open like /health: it carries no prompts and no request ids. */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(HerdMetrics) private readonly metrics: HerdMetrics) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    const text = await this.metrics.render();
    res.status(200).setHeader('Content-Type', this.metrics.contentType());
    res.setHeader('Cache-Control', 'no-store');
    // A Buffer, so Express keeps the content type exactly as prom-client wrote it.
    res.send(Buffer.from(text, 'utf8'));
  }
}
