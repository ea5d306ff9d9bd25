import Fastify from 'fastify';
import { loadConsoleFiles, vendorFiles } from './console-assets';
import { CONSOLE_CSP, mountConsole } from './console.routes';

describe(mountConsole.name, () => {
  const sut = async () => {
    const fastify = Fastify();
    mountConsole(fastify);
    await fastify.ready();
    return fastify;
  };

  it('should serve the page at / and /console/ with the CSP and no inline script', async () => {
    const app = await sut();
    for (const url of ['/', '/console/']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.body).toContain('<script type="module" src="/console/app.js"></script>');
      expect(res.body).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/);
      expect(res.body).toContain(vendorFiles().uplotCss.url);
    }
    expect(CONSOLE_CSP).not.toContain('unsafe');
  });

  it('should serve vendored modules under versioned, immutable paths with bare imports rewritten', async () => {
    const app = await sut();
    const v = vendorFiles();
    expect(v.preact.url).toMatch(/^\/console\/vendor\/preact@\d+\.\d+\.\d+\/preact\.mjs$/);
    const hooks = await app.inject({ url: v.hooks.url });
    expect(hooks.statusCode).toBe(200);
    expect(hooks.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(hooks.body).not.toMatch(/from\s*["']preact["']/);
    expect(hooks.body).toContain(`"${v.preact.url}"`);
    const shim = await app.inject({ url: '/console/vendor.js' });
    expect(shim.body).toContain(v.uplot.url);
  });

  it('should answer 404 in the API envelope for unknown or traversing paths', async () => {
    const app = await sut();
    for (const url of [
      '/console/nope.js',
      '/console/../package.json',
      '/console/%2e%2e/package.json',
      '/console/vendor/preact@0.0.0/preact.mjs',
    ]) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(404);
    }
    expect((await app.inject({ url: '/console/nope.js' })).json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('should hold only the files it was given', () => {
    const files = loadConsoleFiles();
    expect([...files.keys()].every((k) => k.startsWith('/console/'))).toBe(true);
    expect(files.get('/console/app.js')?.contentType).toMatch(/^text\/javascript/);
  });
});
