import type { Socket } from 'node:net';
import { clientErrorHandler } from './server-errors';

function fakeSocket(): Socket & { written: string[]; destroyedWith?: Error } {
  const s = {
    written: [] as string[],
    writable: true,
    destroyed: false,
    remoteAddress: '127.0.0.1',
    destroyedWith: undefined as Error | undefined,
    write(chunk: string) {
      s.written.push(chunk);
      return true;
    },
    destroy(e?: Error) {
      s.destroyed = true;
      s.destroyedWith = e;
    },
  };
  return s as unknown as Socket & { written: string[]; destroyedWith?: Error };
}

describe('clientErrorHandler', () => {
  it('should answer a parser error in the error envelope, close the connection, and say why in the log', () => {
    const warned: Array<{ o: object; msg: string }> = [];
    const handle = clientErrorHandler({ warn: (o, msg) => warned.push({ o, msg }) });
    const socket = fakeSocket();
    const err = Object.assign(new Error('Request timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' });
    handle(err, socket);
    expect(socket.written.join('')).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[\s\S]*"code":"request_timeout"/);
    expect(socket.destroyedWith).toBe(err);
    expect(warned).toEqual([
      { o: expect.objectContaining({ status: 408, err_code: 'ERR_HTTP_REQUEST_TIMEOUT', remote: '127.0.0.1' }), msg: expect.any(String) },
    ]);
  });

  it('should leave a connection the client reset alone, without a warning', () => {
    const warned: unknown[] = [];
    const handle = clientErrorHandler({ warn: (o) => warned.push(o) });
    const socket = fakeSocket();
    handle(Object.assign(new Error('reset'), { code: 'ECONNRESET' }), socket);
    expect(socket.written).toEqual([]);
    expect(warned).toEqual([]);
  });
});
