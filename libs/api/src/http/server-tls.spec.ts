import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SecureContextOptions } from 'node:tls';
import { ConfigError, createLogger, HttpTlsConfig } from '@app/common';
import { Metrics } from '@app/runtime';
import { selfSigned } from '../../../../test/support/test-pki';
import { loadServerTls, ServerTlsReloader } from './server-tls';

describe(ServerTlsReloader.name, () => {
  let dir: string;
  let a: { cert: string; key: string };
  let b: { cert: string; key: string };
  let config: HttpTlsConfig;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'audit-server-tls-'));
    a = selfSigned(dir, 'a');
    b = selfSigned(dir, 'b');
    config = { certFile: path.join(dir, 'live.crt'), keyFile: path.join(dir, 'live.key'), reloadIntervalMs: 0 };
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const install = (pair: { cert: string; key: string }): void => {
    copyFileSync(pair.cert, config.certFile);
    copyFileSync(pair.key, config.keyFile);
  };

  const newSut = () => {
    install(a);
    const contexts: SecureContextOptions[] = [];
    const metrics = new Metrics(false);
    const sut = new ServerTlsReloader(
      { setSecureContext: (o) => void contexts.push(o) },
      config,
      loadServerTls(config),
      createLogger('silent', 't'),
      metrics,
    );
    const count = async (outcome: string): Promise<number> =>
      (await metrics.tlsReloads.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    return { sut, contexts, count };
  };

  it('should do nothing while the files are unchanged', async () => {
    const { sut, contexts, count } = newSut();
    expect(sut.check()).toBe('unchanged');
    expect(contexts).toEqual([]);
    expect(await count('reloaded')).toBe(0);
  });

  it('should swap the context once when a new pair is in place', async () => {
    const { sut, contexts, count } = newSut();
    install(b);
    expect(sut.check()).toBe('reloaded');
    expect(sut.check()).toBe('unchanged');
    expect(contexts).toHaveLength(1);
    expect(await count('reloaded')).toBe(1);
  });

  it('should keep the context and count one failure for a mismatched pair however often it is checked', async () => {
    const { sut, contexts, count } = newSut();
    copyFileSync(b.cert, config.certFile);
    expect(sut.check()).toBe('failed');
    expect(sut.check()).toBe('failed');
    expect(contexts).toEqual([]);
    expect(await count('failed')).toBe(1);
    copyFileSync(b.key, config.keyFile);
    expect(sut.check()).toBe('reloaded');
  });

  it('should name the variable of the file at fault', () => {
    install(a);
    writeFileSync(config.keyFile, 'not a key');
    let error: unknown;
    try {
      loadServerTls(config);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('AUDIT_TLS_KEY_FILE');
  });
});
