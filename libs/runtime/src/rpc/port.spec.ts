import { INestMicroservice } from '@nestjs/common';
import pino from 'pino';
import { AuditError, ErrorCode, ValidationError } from '@app/contracts';
import { freePortForTest } from './test-port';
import { definePort, InFlight, rpcController, serviceAddress, tcpClient } from './port';
import { startRpcServer } from './rpc-server';

interface EchoPort {
  echo(text: string, times: number): Promise<string>;
  slow(ms: number): Promise<string>;
}

const ECHO_PORT = definePort<EchoPort>({
  name: 'echo',
  service: 'echo-service',
  address: serviceAddress('ECHO', 4999),
  methods: {
    echo: {
      pattern: 'test.echo',
      deadline: 'queryMs',
      encode: (text, times) => ({ text, times }),
      decode: (m) => {
        const { text, times } = m as { text?: unknown; times?: unknown };
        if (typeof text !== 'string')
          throw new ValidationError('malformed echo request: text must be a string', [{ field: 'text', message: 'must be a string' }]);
        return [text, Number(times)];
      },
    },
    slow: { pattern: 'test.slow', deadline: 'queryMs', encode: (ms) => ({ ms }), decode: (m) => [(m as { ms: number }).ms] },
  },
});

const implementation: EchoPort = {
  echo: async (text, times) => text.repeat(times),
  slow: (ms) => new Promise((resolve) => setTimeout(() => resolve(`slept ${ms}`), ms)),
};

describe('typed ports', () => {
  let server: INestMicroservice;
  const inFlight = new InFlight();
  let port: number;

  beforeAll(async () => {
    port = await freePortForTest();
    server = await startRpcServer({
      service: 'echo-service',
      host: '127.0.0.1',
      port,
      logger: pino({ level: 'silent' }),
      controllers: [rpcController(ECHO_PORT, implementation, inFlight)],
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it('should derive a TCP client and an RPC controller from one definition', async () => {
    const client = tcpClient(ECHO_PORT, { host: '127.0.0.1', port });
    try {
      await expect(client.echo('ab', 3)).resolves.toBe('ababab');
    } finally {
      client.close();
    }
  });

  it('should validate a message on arrival and bring the ValidationError back intact', async () => {
    const client = tcpClient(ECHO_PORT, { host: '127.0.0.1', port });
    try {
      const error = await client.echo(42 as unknown as string, 1).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuditError);
      expect((error as AuditError).code).toBe(ErrorCode.ValidationFailed);
      expect((error as AuditError).status).toBe(400);
      expect((error as AuditError).details).toEqual([{ field: 'text', message: 'must be a string' }]);
    } finally {
      client.close();
    }
  });

  it('should answer the requests in hand when draining and refuse new ones with a retryable 503', async () => {
    const client = tcpClient(ECHO_PORT, { host: '127.0.0.1', port });
    try {
      const inHand = client.slow(300);
      await new Promise((r) => setTimeout(r, 50));
      expect(inFlight.size).toBe(1);
      const drained = inFlight.drain(5000);
      const refused = await client.echo('x', 1).catch((e: unknown) => e);
      expect((refused as AuditError).status).toBe(503);
      expect((refused as AuditError).headers['retry-after']).toBe('1');
      await expect(inHand).resolves.toBe('slept 300');
      await drained;
      expect(inFlight.size).toBe(0);
    } finally {
      client.close();
    }
  });
});
