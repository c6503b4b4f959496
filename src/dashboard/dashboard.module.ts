import { Inject, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { HerdCore } from '../core/herd-core';
import { DashboardAssets, DashboardController } from './dashboard.controller';
import { DashboardState } from './dashboard-state';
import { findPublicDir, loadAssets, publicDirCandidates } from './static-assets';

/** The operator dashboard and prompt console (`/dashboard`) and its JSON feed (`GET /herd/dashboard`). */
@Module({})
export class DashboardModule implements OnModuleInit {
  constructor(
    @Inject(HerdCore) private readonly core: HerdCore,
    @Inject(DashboardState) private readonly state: DashboardState,
    @Inject(DashboardAssets) private readonly assets: DashboardAssets,
  ) {}

  static forCore(core: HerdCore): DynamicModule {
    return {
      module: DashboardModule,
      controllers: [DashboardController],
      providers: [
        { provide: HerdCore, useValue: core },
        { provide: DashboardState, useFactory: () => new DashboardState(core) },
        { provide: DashboardAssets, useFactory: () => locateAssets() },
      ],
    };
  }

  onModuleInit(): void {
    const state = this.state;
    this.core.events.on((record) => state.record(record));
    if (this.assets.problem) this.core.log.warn('dashboard disabled', { reason: this.assets.problem });
  }
}

function locateAssets(): DashboardAssets {
  const dir = findPublicDir();
  if (!dir) return new DashboardAssets(undefined, `looked in ${publicDirCandidates(__dirname).join(' and ')}`);
  try {
    return new DashboardAssets(loadAssets(dir));
  } catch (err) {
    return new DashboardAssets(undefined, (err as Error).message);
  }
}
