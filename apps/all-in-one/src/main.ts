import 'reflect-metadata';
import { runService } from '@app/api';
import { startEmbedded } from './embedded';

runService('all-in-one', async (config, logger) => {
  const service = await startEmbedded(config, logger);
  return { close: () => service.close(), describe: { url: service.url, docs: `${service.url}/docs`, data_dir: config.dataDir } };
});
