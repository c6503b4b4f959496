import { Module } from '@nestjs/common';
import { HERD_CONFIG, type HerdConfig } from '../config/herd-config';
import { OllamaNodeClient } from './ollama-node.client';

/** The one HTTP client to Ollama nodes (a keep-alive pool per node). */
@Module({
  providers: [{ provide: OllamaNodeClient, useFactory: (config: HerdConfig) => new OllamaNodeClient(config.connectTimeoutMs), inject: [HERD_CONFIG] }],
  exports: [OllamaNodeClient],
})
export class UpstreamModule {}
