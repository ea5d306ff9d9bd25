import 'reflect-metadata';
import { ConfigError, createLogger, loadConfig } from '@app/common';
import { startEmbedded, StartupError } from './embedded';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel, 'all-in-one');
  let service;
  try {
    service = await startEmbedded(config, logger);
  } catch (e) {
    if (e instanceof StartupError) {
      logger.fatal(e.message);
      process.stderr.write(`${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  logger.info({ url: service.url, data_dir: config.dataDir, docs: `${service.url}/docs` }, 'HOMEPOT Audit is listening');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    service
      .close()
      .then(() => process.exit(0))
      .catch((e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`fatal: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
