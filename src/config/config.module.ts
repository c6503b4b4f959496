import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Logger } from '../common/logger';
import { HERD_CONFIG, type HerdConfig } from './herd-config';

/** The configuration, validated once before start (load-config.ts), and the logger: for every module. */
@Global()
@Module({})
export class ConfigModule {
  static forRoot(config: HerdConfig, log: Logger): DynamicModule {
    return {
      module: ConfigModule,
      providers: [
        { provide: HERD_CONFIG, useValue: config },
        { provide: Logger, useValue: log },
      ],
      exports: [HERD_CONFIG, Logger],
    };
  }
}
