import { WorkerRpc } from './worker-rpc';

/**
 * A worker, as code (`eval`), that answers `{ echo }` with its value and its thread id, fails `{ fail }` with
 * an error carrying a code, exits with `{ exit }` as its code, and dies of an uncaught `{ crash }`.
 */
const WORKER = `
const { parentPort, threadId } = require('node:worker_threads');
parentPort.on('message', ({ id, request }) => {
  if ('exit' in request) process.exit(request.exit);
  if ('crash' in request) throw new Error(request.crash);
  if ('fail' in request) parentPort.postMessage({ id, error: { message: request.fail, code: 'E_TEST' } });
  else parentPort.postMessage({ id, result: { echo: request.echo, thread: threadId } });
});
`;

type Req = { echo: string } | { fail: string } | { exit: number } | { crash: string };
type Res = { echo: string; thread: number };

describe('WorkerRpc', () => {
  const open: Array<WorkerRpc<Req, Res>> = [];
  const rpc = (options: { restart?: boolean; onFailure?: (e: Error) => void } = {}) => {
    const r = new WorkerRpc<Req, Res>(WORKER, { name: 'test', eval: true, ...options });
    open.push(r);
    return r;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });

  it('should answer each call by id and pass an error with its fields', async () => {
    const r = rpc();
    const [a, b] = await Promise.all([r.call({ echo: 'a' }), r.call({ echo: 'b' })]);
    expect([a.echo, b.echo]).toEqual(['a', 'b']);
    await expect(r.call({ fail: 'refused' })).rejects.toMatchObject({ message: 'refused', code: 'E_TEST' });
  });

  it('should start a new worker after one exited, by default', async () => {
    const r = rpc();
    const first = await r.call({ echo: 'x' });
    await expect(r.call({ exit: 3 })).rejects.toThrow('the test worker exited with code 3');
    const second = await r.call({ echo: 'y' });
    expect(second.echo).toBe('y');
    expect(second.thread).not.toBe(first.thread);
  });

  it('should not fail a call to the new worker when the one that crashed exits after it', async () => {
    // given a worker that dies of an uncaught error ('error', then later 'exit')
    const r = rpc();
    // when a call is made as soon as the crash is reported, before that worker's exit
    const next = r.call({ crash: 'boom' }).then(
      () => 'answered',
      () => r.call({ echo: 'after' }),
    );
    // then it is answered by a new worker, not failed by the old one's exit
    await expect(next).resolves.toMatchObject({ echo: 'after' });
  });

  it('given restart false, when the worker exits, then every later call fails and onFailure is told once', async () => {
    const failures: Error[] = [];
    const r = rpc({ restart: false, onFailure: (e) => failures.push(e) });
    await r.call({ echo: 'x' });
    await expect(r.call({ exit: 7 })).rejects.toThrow('exited with code 7');
    await expect(r.call({ echo: 'y' })).rejects.toThrow('exited with code 7');
    expect(failures.map((e) => e.message)).toEqual(['the test worker exited with code 7']);
  });

  it('should answer the calls in flight even when onFailure throws', async () => {
    const r = rpc({
      restart: false,
      onFailure: () => {
        throw new Error('listener failed');
      },
    });
    await r.call({ echo: 'x' });
    await expect(r.call({ exit: 5 })).rejects.toThrow('exited with code 5');
  });

  it('should not call onFailure when it is closed', async () => {
    const failures: Error[] = [];
    const r = rpc({ restart: false, onFailure: (e) => failures.push(e) });
    await r.call({ echo: 'x' });
    await r.close();
    await expect(r.call({ echo: 'y' })).rejects.toThrow('the test worker is closed');
    expect(failures).toEqual([]);
  });
});
