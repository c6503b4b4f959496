/** The value after `--name` on the command line, if any. */
export function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** The scheduling benchmark's settings that its offline twin (explore-schedule.ts) must share. */
export const SCHEDULE_DEFAULTS = {
  timeScale: 0.08,
  healthIntervalMs: 500,
  warmup: 30,
  /** Warm-up traces use seed + this, so they never repeat a measured request. */
  warmupSeedOffset: 1000,
} as const;
