import * as net from 'node:net';
import { AddressInfo } from 'node:net';
import { S3ObjectStore } from './s3.store';

describe(S3ObjectStore.name, () => {
  it('should give up on a server that accepts the connection and then says nothing, instead of waiting for good', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((s) => void sockets.push(s.on('error', () => undefined)));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const store = new S3ObjectStore({
      endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
      region: 'us-east-1',
      bucket: 'b',
      accessKeyId: 'k',
      secretAccessKey: 's',
      timeouts: { connectMs: 300, idleMs: 300 },
    });
    try {
      // the SDK tries three times, each cut after 300 ms of silence
      await expect(store.head('x')).rejects.toThrow(/timed out|timeout|socket/i);
      expect(sockets.length).toBeGreaterThanOrEqual(1);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => silent.close(() => r()));
    }
  }, 15_000);
});
