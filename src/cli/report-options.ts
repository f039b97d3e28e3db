// What the report commands share: the period and format options, and a store opened for one report.
import { Command, Option } from 'commander';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { createUptakeStore, type UptakeStore } from '../uptake/index.js';

export type PeriodOptions = { from?: string; to?: string; format?: string };

export const periodOptions = (command: Command): Command =>
  command
    .option('--from <date>', 'calls at or after this day (UTC) or instant, e.g. 2027-01-04')
    .option('--to <date>', 'calls before this instant, or up to the end of this day (UTC)')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'csv']).default('json'));

export async function withStore<T>(
  config: Config,
  logger: Logger,
  use: (store: UptakeStore) => Promise<T>,
): Promise<T> {
  const store = await createUptakeStore(config, { logger });
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
