import { INTEGRITY_PORT_DEFINITION } from '@app/integrity';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { APPS, AppConfig, HEALTH_PATHS, KNOWN_ENV_VARS, loadConfig, TOOLS } from '@app/common';
import { ALERTING_PORT_DEFINITION } from '@app/alerting';
import { ALL_CAPABILITIES } from '../../apps/all-in-one/src/capabilities';
import { REPORTING_PORT_DEFINITION } from '@app/reporting';
import { RETENTION_PORT_DEFINITION } from '@app/retention';
import { Deployment, IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler, IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { IJob, Job } from 'kubernetes-models/batch/v1/Job';
import { INetworkPolicy, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { IPodDisruptionBudget, PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap, IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { ISecret, Secret } from 'kubernetes-models/v1/Secret';
import { IService, Service } from 'kubernetes-models/v1/Service';
import { parse } from 'yaml';
import { SIEM_PORT_DEFINITION } from '@app/siem';

import {
  KubeObject,
  Stage,
  applyJsonPatch,
  copySources,
  dockerIgnored,
  ingressAllowed,
  interpolate,
  interpolateTree,
  isKubeObject,
  listYamlFiles,
  objectId,
  parseDockerfile,
  parseQuantity,
  readJsonPatch,
  readKustomization,
  readYamlDocuments,
  renderKustomization,
  selectorMatches,
} from './manifest-tools';

const ROOT = path.resolve(__dirname, '../..');
const K8S = path.join(ROOT, 'k8s');
const BASE = path.join(K8S, 'base');
const OVERLAYS = ['dev', 'production'] as const;
const NAMESPACE = 'homepot-audit';
const IMAGE = 'ghcr.io/homepot/audit:0.1.0';
const PART_OF = 'app.kubernetes.io/part-of';
const NAME = 'app.kubernetes.io/name';

type AppName = keyof typeof APPS;
/** Every app but the embedded single process runs as its own Deployment. */
const DEPLOYED = (Object.keys(APPS) as AppName[]).filter((a) => a !== 'all-in-one');
/** Apps pinned to one replica: retention serialises its run in the process (k8s/base/retention.yaml). */
const SINGLE_REPLICA: AppName[] = ['retention'];
/** The core settings and every capability's own section (each parsed only where the capability runs). */
const ALL_ENV_VARS = [
  ...KNOWN_ENV_VARS,
  ...ALL_CAPABILITIES.flatMap((c) => [...(c.config ?? []), ...(c.serves ?? []).map((p) => p.address)].flatMap((s) => s.variables)),
];
const KNOWN = new Set<string>(ALL_ENV_VARS);
const rel = (file: string): string => path.relative(ROOT, file);

const VALIDATORS: Record<string, (obj: KubeObject) => void> = {
  'v1/Namespace': (o) => new Namespace(o as never).validate(),
  'v1/ConfigMap': (o) => new ConfigMap(o as never).validate(),
  'v1/Secret': (o) => new Secret(o as never).validate(),
  'v1/PersistentVolumeClaim': (o) => new PersistentVolumeClaim(o as never).validate(),
  'v1/Service': (o) => new Service(o as never).validate(),
  'apps/v1/Deployment': (o) => new Deployment(o as never).validate(),
  'autoscaling/v2/HorizontalPodAutoscaler': (o) => new HorizontalPodAutoscaler(o as never).validate(),
  'policy/v1/PodDisruptionBudget': (o) => new PodDisruptionBudget(o as never).validate(),
  'networking.k8s.io/v1/NetworkPolicy': (o) => new NetworkPolicy(o as never).validate(),
  'batch/v1/Job': (o) => new Job(o as never).validate(),
};

interface ScrapeJob {
  job_name: string;
  metrics_path?: string;
  authorization?: { type?: string; credentials?: string; credentials_file?: string };
  kubernetes_sd_configs?: unknown[];
  relabel_configs?: Array<{ source_labels?: string[]; regex?: string; action?: string }>;
}

/** The jobs of k8s/monitoring/prometheus-scrape.yaml: a ConfigMap holding a Prometheus scrape_configs file. */
function scrapeJobs(): ScrapeJob[] {
  const [cm] = readYamlDocuments(path.join(K8S, 'monitoring/prometheus-scrape.yaml')) as IConfigMap[];
  const files = Object.values(cm.data ?? {});
  expect(files).toHaveLength(1);
  return (parse(files[0]) as { scrape_configs: ScrapeJob[] }).scrape_configs;
}

function validateObject(o: KubeObject): void {
  const validate = VALIDATORS[`${o.apiVersion}/${o.kind}`];
  if (!validate) throw new Error(`${o.apiVersion} ${o.kind} has no schema check here; add one to VALIDATORS`);
  validate(o);
}

/** The ports an app's config says it serves: health (probes, /metrics) and, for the internal services, the TCP transport. */
function servedPorts(app: AppName, c: AppConfig, env: Record<string, string | undefined> = {}): { health: number; rpc?: number } {
  if (app === 'api-gateway' || app === 'all-in-one') return { health: c.http.port };
  if (app === 'ingest-gateway') return { health: c.healthPort, rpc: c.services.ingest.port };
  if (app === 'reporting') return { health: c.healthPort, rpc: REPORTING_PORT_DEFINITION.address.parse(env).port };
  // The manifests set ALERTING_SERVICE_PORT to its default (the address is the port's own config section).
  if (app === 'alerting') return { health: c.healthPort, rpc: ALERTING_PORT_DEFINITION.address.parse({}).port };
  if (app === 'integrity') return { health: c.healthPort, rpc: INTEGRITY_PORT_DEFINITION.address.parse(env).port };
  if (app === 'siem-forwarder') return { health: c.healthPort, rpc: SIEM_PORT_DEFINITION.address.parse(env).port };
  if (app === 'retention') return { health: c.healthPort, rpc: RETENTION_PORT_DEFINITION.address.parse(env).port };
  return { health: c.healthPort, rpc: c.services.query.port };
}

/** What each app needs from its environment in the distributed mode (and the embedded one in the embedded mode). */
function expectDistributedConfig(app: AppName, c: AppConfig): void {
  if (app === 'all-in-one') {
    expect(c.kafka.kind).toBe('embedded');
    expect(c.postgres.kind).toBe('pglite');
    expect(c.clickhouse.kind).toBe('chdb');
    expect(c.http.host).toBe('0.0.0.0');
    return;
  }
  // Every app must listen beyond loopback, or neither the kubelet nor other pods can reach it.
  expect(c.http.host).toBe('0.0.0.0');
  if (app === 'api-gateway') {
    expect(c.postgres.kind).toBe('pg');
    expect(c.auth.bootstrapKey).toBeDefined();
    expect(c.auth.allowAnonymousOnLoopback).toBe(false);
  }
  if (app === 'ingest-gateway') {
    expect(c.kafka.kind).toBe('kafka');
    expect(c.postgres.kind).toBe('pg');
    expect(c.services.ingest.host).toBe('0.0.0.0');
  }
  if (app === 'query-store') {
    expect(c.kafka.kind).toBe('kafka');
    expect(c.clickhouse).toMatchObject({ kind: 'http', username: expect.any(String), password: expect.any(String) });
    expect(c.services.query.host).toBe('0.0.0.0');
  }
}

describe('docker/Dockerfile', () => {
  let stages: Stage[] = [];
  let runtime: Stage;
  beforeAll(() => {
    stages = parseDockerfile(fs.readFileSync(path.join(ROOT, 'docker/Dockerfile'), 'utf8'));
    runtime = stages[stages.length - 1];
  });
  const all = (stage: Stage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);

  it('should build in earlier stages and run on node:24-bookworm-slim, the major the node dependency pins', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      engines: Record<string, string>;
    };
    expect(pkg.dependencies.node).toMatch(/^\^24(\.|$)/);
    expect(pkg.engines.node).toBe('>=24');
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(runtime.image).toBe('node:24-bookworm-slim');
    const names = new Set<string>();
    for (const s of stages) {
      expect(['node:24-bookworm-slim', ...names]).toContain(s.image);
      if (s.name) names.add(s.name);
    }
    const builders = stages.slice(0, -1);
    // npm install, because npm ci refuses the lock file (chdb's optional per-platform packages are not served).
    expect(stages.every((s) => all(s, 'RUN').every((r) => !/\bnpm ci\b/.test(r)))).toBe(true);
    const builderInstalls = builders.flatMap((s) => all(s, 'RUN')).filter((r) => /\bnpm install\b/.test(r));
    expect(builderInstalls.length).toBeGreaterThan(0);
    expect(builderInstalls.filter((r) => !r.includes('--omit=dev'))).not.toEqual([]);
    expect(builders.some((s) => all(s, 'RUN').some((r) => /\bnpm run build\b/.test(r)))).toBe(true);
  });

  it('should install production dependencies only and copy dist/ from a build stage into the runtime stage', () => {
    expect(all(runtime, 'RUN').some((r) => /\bnpm install\b.*--omit=dev/.test(r))).toBe(true);
    expect(all(runtime, 'RUN').some((r) => /\bnpm run build\b/.test(r))).toBe(false);
    const copies = all(runtime, 'COPY').map(copySources);
    const earlier = stages.slice(0, -1).map((s) => s.name);
    const distCopies = copies.filter((c) => c.sources.some((s) => /\/dist\/?$/.test(s)));
    expect(distCopies.length).toBeGreaterThan(0);
    for (const c of distCopies) expect(earlier).toContain(c.from);
    expect(all(runtime, 'ENV').join(' ')).toMatch(/\bNODE_ENV=production\b/);
  });

  it('should run as a non-root user given by number', () => {
    const users = all(runtime, 'USER');
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1].split(':')[0];
    // Numeric, so the kubelet can check runAsNonRoot against the image.
    expect(user).toMatch(/^\d+$/);
    expect(Number(user)).toBeGreaterThan(0);
    const k8sUsers = renderKustomization(BASE)
      .filter((o) => o.kind === 'Deployment')
      .map((o) => (o as unknown as IDeployment).spec?.template.spec?.securityContext?.runAsUser);
    for (const u of k8sUsers) expect(u).toBe(Number(user));
  });

  it('should start the entrypoint script that takes the app name', () => {
    const entry = all(runtime, 'ENTRYPOINT');
    expect(entry).toHaveLength(1);
    const argv = JSON.parse(entry[0]) as string[];
    const script = argv[argv.length - 1];
    const copied = all(runtime, 'COPY')
      .map(copySources)
      .find((c) => c.from === undefined && c.sources.includes('docker/entrypoint.sh'));
    expect(copied).toBeDefined();
    expect(all(runtime, 'COPY').filter((c) => c.startsWith('docker/entrypoint.sh '))).toEqual([`docker/entrypoint.sh ${script}`]);
  });

  it('should EXPOSE every port the Deployments declare', () => {
    const exposed = new Set(all(runtime, 'EXPOSE').flatMap((e) => e.split(' ').map((p) => Number(p.replace(/\/tcp$/, '')))));
    const declared = renderKustomization(BASE)
      .filter((o) => o.kind === 'Deployment')
      .flatMap((o) => (o as unknown as IDeployment).spec?.template.spec?.containers.flatMap((c) => c.ports ?? []) ?? [])
      .map((p) => p.containerPort);
    expect(declared.length).toBeGreaterThan(0);
    for (const p of declared) expect(exposed).toContain(p);
  });

  it('should copy only files that exist and that .dockerignore lets into the build context', () => {
    const ignore = fs
      .readFileSync(path.join(ROOT, '.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    for (const heavy of ['node_modules', 'dist', '.git', 'data']) expect(dockerIgnored(ignore, heavy)).toBe(true);
    const sources = stages
      .flatMap((s) =>
        all(s, 'COPY')
          .map(copySources)
          .filter((c) => c.from === undefined),
      )
      .flatMap((c) => c.sources);
    expect(sources).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'apps', 'libs']));
    for (const src of sources) {
      expect(fs.existsSync(path.join(ROOT, src)) ? src : `${src} (missing)`).toBe(src);
      expect(dockerIgnored(ignore, src) ? `${src} (ignored)` : src).toBe(src);
    }
  });
});

describe('npm run build', () => {
  it('should lay out each app entry file where APPS (and so the image) expects it, with resolvable relative imports', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.build).toMatch(/ -d dist(?= |$)/);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-build-'));
    try {
      // The image runs exactly this script; only the output directory moves out of the work tree.
      const r = spawnSync('sh', ['-c', pkg.scripts.build.replace(/ -d dist(?= |$)/, ` -d ${out}/dist`)], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH ?? ''}` },
      });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const built = (Object.keys(APPS) as AppName[]).filter((app) => fs.existsSync(path.join(ROOT, 'apps', app, 'src/main.ts')));
      expect(built.length).toBeGreaterThan(0);
      for (const app of built) expect(fs.existsSync(path.join(out, APPS[app])) ? app : `${APPS[app]} (not built there)`).toBe(app);
      for (const entry of Object.values(TOOLS))
        expect(fs.existsSync(path.join(out, entry)) ? entry : `${entry} (not built there)`).toBe(entry);
      expect(Object.values(pkg.scripts)).toContain(`exec node ${TOOLS['reconcile-rollup']}`);

      const unresolved: string[] = [];
      const walk = (dir: string): string[] =>
        fs
          .readdirSync(dir, { withFileTypes: true })
          .flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
      for (const file of walk(path.join(out, 'dist')).filter((f) => f.endsWith('.js'))) {
        for (const m of fs.readFileSync(file, 'utf8').matchAll(/require\("(\.{1,2}\/[^"]*)"\)/g)) {
          const target = path.resolve(path.dirname(file), m[1]);
          if (
            ![target, `${target}.js`, `${target}.json`, path.join(target, 'index.js')].some(
              (t) => fs.existsSync(t) && fs.statSync(t).isFile(),
            )
          ) {
            unresolved.push(`${path.relative(out, file)} -> ${m[1]}`);
          }
        }
      }
      expect(unresolved).toEqual([]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('docker/entrypoint.sh', () => {
  const script = path.join(ROOT, 'docker/entrypoint.sh');
  const run = (cwd: string, args: string[]) =>
    spawnSync('sh', [script, ...args], {
      cwd,
      encoding: 'utf8',
      env: { PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}` },
    });

  it('should map exactly the apps in APPS and the tools in TOOLS to their entry files', () => {
    const mapping = Object.fromEntries(
      [...fs.readFileSync(script, 'utf8').matchAll(/^\s*([a-z-]+)\)\s*entry=(\S+)\s*;;/gm)].map((m) => [m[1], m[2]]),
    );
    expect(mapping).toEqual({ ...APPS, ...TOOLS });
  });

  it('should refuse an unknown or missing app name', () => {
    for (const args of [['nope'], [], ['API-GATEWAY']]) {
      const r = run(ROOT, args);
      expect(r.status).toBe(64);
      expect(r.stderr).toContain('usage:');
    }
  });

  it('should exec the named app with the remaining arguments', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-entrypoint-'));
    try {
      for (const [app, entry] of Object.entries({ ...APPS, ...TOOLS })) {
        fs.mkdirSync(path.dirname(path.join(dir, entry)), { recursive: true });
        fs.writeFileSync(
          path.join(dir, entry),
          `console.log(JSON.stringify({ app: ${JSON.stringify(app)}, args: process.argv.slice(2) }));`,
        );
      }
      for (const app of Object.keys({ ...APPS, ...TOOLS })) {
        const r = run(dir, [app, '--flag', 'x']);
        expect(r.stderr).toBe('');
        expect(JSON.parse(r.stdout)).toEqual({ app, args: ['--flag', 'x'] });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker/compose.yaml', () => {
  type ComposeService = {
    image?: string;
    build?: { context: string; dockerfile: string };
    command?: string[];
    profiles?: string[];
    environment?: Record<string, string | number | boolean | null> | string[];
    ports?: (string | { target: number; published?: string | number })[];
    expose?: (string | number)[];
    healthcheck?: { test: string[] | string };
    depends_on?: Record<string, { condition: string }> | string[];
  };
  const file = path.join(ROOT, 'docker/compose.yaml');
  let raw: { services: Record<string, ComposeService> };
  let services: Record<string, ComposeService> = {};
  beforeAll(() => {
    raw = parse(fs.readFileSync(file, 'utf8'), { merge: true }) as typeof raw;
    services = (interpolateTree(raw, { AUDIT_BOOTSTRAP_API_KEY: 'k'.repeat(48) }) as typeof raw).services;
  });

  const envOf = (s: ComposeService): Record<string, string> => {
    if (Array.isArray(s.environment)) {
      return Object.fromEntries(s.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    }
    return Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
  };
  const appOf = (s: ComposeService): AppName | undefined => {
    const name = s.command?.[0];
    return name !== undefined && Object.hasOwn(APPS, name) ? (name as AppName) : undefined;
  };
  // Compose services are named after the app they run (checked below), so the tables can be built before parsing.
  const APP_SERVICES = Object.keys(APPS) as AppName[];
  const dependsOn = (s: ComposeService): Record<string, string> =>
    Array.isArray(s.depends_on)
      ? Object.fromEntries(s.depends_on.map((d) => [d, 'service_started']))
      : Object.fromEntries(Object.entries(s.depends_on ?? {}).map(([k, v]) => [k, v.condition]));
  const healthUrl = (s: ComposeService): { port: number; path: string } | undefined => {
    const test = Array.isArray(s.healthcheck?.test) ? s.healthcheck.test.join(' ') : (s.healthcheck?.test ?? '');
    const m = /https?:\/\/(?:127\.0\.0\.1|localhost):(\d+)(\/[^'"\s)]*)/.exec(test);
    return m ? { port: Number(m[1]), path: m[2] } : undefined;
  };

  it('should refuse to start without a bootstrap API key', () => {
    expect(() => interpolateTree(raw, {})).toThrow(/AUDIT_BOOTSTRAP_API_KEY/);
    expect(interpolate('$${X}-${Y:-d}-${Z-e}', { Z: '' })).toBe('${X}-d-');
  });

  it.each(DEPLOYED)('should run %s from the image built by docker/Dockerfile, in the default profile', (app) => {
    const s = services[app];
    expect(s).toBeDefined();
    expect(s.command).toEqual([app]);
    expect(s.profiles).toBeUndefined();
    expect(s.image).toBe(IMAGE);
    expect(path.resolve(path.dirname(file), s.build?.context ?? '', s.build?.dockerfile ?? '')).toBe(path.join(ROOT, 'docker/Dockerfile'));
  });

  it('should run each app as a service named after it, and nothing else from the image', () => {
    const fromImage = Object.entries(services).filter(([, s]) => s.image === IMAGE || s.build !== undefined);
    expect(fromImage.map(([name, s]) => [name, appOf(s)]).sort()).toEqual(APP_SERVICES.map((a) => [a, a]).sort());
  });

  it('should offer all-in-one only under the embedded profile', () => {
    expect(services['all-in-one']?.command).toEqual(['all-in-one']);
    expect(services['all-in-one']?.profiles).toEqual(['embedded']);
  });

  it('should publish the API gateway on 8000 and no internal service port', () => {
    const published = (s: ComposeService): number[] =>
      (s.ports ?? []).map((p) =>
        typeof p === 'string'
          ? Number(
              p
                .split(':')
                .pop()
                ?.replace(/\/tcp$/, ''),
            )
          : p.target,
      );
    expect(services['api-gateway'].ports).toContain('8000:8000');
    for (const app of DEPLOYED.filter((a) => a !== 'api-gateway')) expect(published(services[app])).toEqual([]);
  });

  it.each(APP_SERVICES)('should give %s only known variables, and a configuration that loads', (name) => {
    const s = services[name];
    const env = envOf(s);
    for (const k of Object.keys(env)) expect(KNOWN.has(k) ? k : `${k} (not in KNOWN_ENV_VARS)`).toBe(k);
    const app = appOf(s) as AppName;
    const config = loadConfig(env);
    expectDistributedConfig(app, config);

    const ports = servedPorts(app, config, env);
    expect(healthUrl(s)).toEqual({ port: ports.health, path: HEALTH_PATHS.ready });
    if (ports.rpc !== undefined) expect((s.expose ?? []).map(Number)).toEqual(expect.arrayContaining([ports.rpc, ports.health]));
  });

  it.each(APP_SERVICES)('should make %s wait for healthy servers it talks to, with matching credentials', (name) => {
    const s = services[name];
    const config = loadConfig(envOf(s));
    const deps = dependsOn(s);
    const needs = new Set<string>();
    if (config.kafka.kind === 'kafka') {
      for (const b of config.kafka.brokers) {
        const [host, port] = b.split(':');
        needs.add(host);
        expect(envOf(services[host]).KAFKA_ADVERTISED_LISTENERS).toContain(`//${host}:${port}`);
      }
    }
    if (config.postgres.kind === 'pg') {
      const u = new URL(config.postgres.url);
      needs.add(u.hostname);
      const pg = envOf(services[u.hostname]);
      expect([u.username, decodeURIComponent(u.password), u.pathname.slice(1), u.port || '5432']).toEqual([
        pg.POSTGRES_USER,
        pg.POSTGRES_PASSWORD,
        pg.POSTGRES_DB,
        '5432',
      ]);
    }
    if (config.clickhouse.kind === 'http') {
      const u = new URL(config.clickhouse.url);
      needs.add(u.hostname);
      const ch = envOf(services[u.hostname]);
      expect([config.clickhouse.username, config.clickhouse.password]).toEqual([ch.CLICKHOUSE_USER, ch.CLICKHOUSE_PASSWORD]);
    }
    if (appOf(s) === 'api-gateway') {
      const ingest = services[config.services.ingest.host];
      const query = services[config.services.query.host];
      expect(appOf(ingest)).toBe('ingest-gateway');
      expect(appOf(query)).toBe('query-store');
      expect(servedPorts('ingest-gateway', loadConfig(envOf(ingest))).rpc).toBe(config.services.ingest.port);
      expect(servedPorts('query-store', loadConfig(envOf(query))).rpc).toBe(config.services.query.port);
      needs.add(config.services.ingest.host).add(config.services.query.host);
    }
    for (const dep of needs) {
      expect(services[dep]).toBeDefined();
      expect(services[dep].healthcheck).toBeDefined();
      expect(deps[dep]).toBe('service_healthy');
    }
    for (const dep of Object.keys(deps)) expect(services[dep]).toBeDefined();
  });
});

describe('k8s/', () => {
  const kustomizationDirs = listYamlFiles(K8S)
    .filter((f) => path.basename(f) === 'kustomization.yaml')
    .map((f) => path.dirname(f));
  // Read without validation here so a broken kustomization fails its own test below, not the collection of the file.
  const patchFiles = new Set(
    kustomizationDirs.flatMap((d) => {
      const k = parse(fs.readFileSync(path.join(d, 'kustomization.yaml'), 'utf8')) as { patches?: { path?: unknown }[] } | null;
      return (k?.patches ?? []).filter((p) => typeof p.path === 'string').map((p) => path.resolve(d, p.path as string));
    }),
  );
  const objectFiles = listYamlFiles(K8S).filter((f) => path.basename(f) !== 'kustomization.yaml' && !patchFiles.has(f));
  const secretExample = path.join(BASE, 'secrets.example.yaml');
  let exampleSecret: ISecret;
  beforeAll(() => {
    exampleSecret = readYamlDocuments(secretExample)[0] as ISecret;
  });

  it.each(kustomizationDirs.map(rel))('%s/kustomization.yaml should use only what the renderer here understands', (dir) => {
    expect(() => readKustomization(path.join(ROOT, dir))).not.toThrow();
  });

  it('should have a base and the dev and production overlays', () => {
    expect(kustomizationDirs.map(rel).sort()).toEqual(['k8s/base', 'k8s/overlays/dev', 'k8s/overlays/production']);
  });

  it.each(objectFiles.map(rel))('%s should hold only Kubernetes objects that match the Kubernetes schemas', (file) => {
    const docs = readYamlDocuments(path.join(ROOT, file));
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      expect(isKubeObject(doc)).toBe(true);
      validateObject(doc as KubeObject);
    }
  });

  it.each([...patchFiles].map(rel))('%s should be a JSON 6902 patch', (file) => {
    expect(readJsonPatch(path.join(ROOT, file)).length).toBeGreaterThan(0);
  });

  it.each(OVERLAYS)('overlay %s should build on the base and patch only what the base defines', (overlay) => {
    const dir = path.join(K8S, 'overlays', overlay);
    const k = readKustomization(dir);
    expect(k.resources).toEqual(['../../base']);
    const base = renderKustomization(BASE);
    for (const p of k.patches ?? []) {
      expect(fs.existsSync(path.resolve(dir, p.path))).toBe(true);
      expect(p.target.kind && p.target.name).toBeTruthy();
      const targets = base.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
      expect(targets.map((t) => `${t.kind}/${t.metadata.name}`)).toEqual([`${p.target.kind}/${p.target.name}`]);
    }
    expect(() => renderKustomization(dir)).not.toThrow();
  });

  it('should keep the example Secret out of every kustomization and hold only placeholders', () => {
    for (const d of kustomizationDirs) {
      expect((readKustomization(d).resources ?? []).map((r) => path.resolve(d, r))).not.toContain(secretExample);
    }
    expect(exampleSecret.metadata?.name).toBe('audit-secrets');
    for (const v of Object.values(exampleSecret.stringData ?? {})) expect(v).toContain('CHANGE_ME');
  });

  it('should make a patch that targets a missing resource fail the build (the check above can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'audit-kustomize-'));
    try {
      fs.writeFileSync(path.join(dir, 'p.yaml'), '- op: replace\n  path: /spec/minReplicas\n  value: 1\n');
      fs.writeFileSync(
        path.join(dir, 'kustomization.yaml'),
        `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ${BASE}\npatches:\n  - path: p.yaml\n    target:\n      kind: HorizontalPodAutoscaler\n      name: not-deployed\n`,
      );
      expect(() => renderKustomization(dir)).toThrow(/not in its resources/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(() => applyJsonPatch({ spec: {} }, [{ op: 'replace', path: '/spec/replicas', value: 2 }])).toThrow(/does not exist/);
  });

  const variants: [string, string][] = [['base', BASE], ...OVERLAYS.map((o): [string, string] => [o, path.join(K8S, 'overlays', o)])];

  describe.each(variants)('%s', (variant, dir) => {
    let objects: KubeObject[] = [];
    let configMap: IConfigMap;
    beforeAll(() => {
      objects = renderKustomization(dir);
      configMap = find<IConfigMap>('ConfigMap', 'audit-config');
    });
    const find = <T>(kind: string, name: string): T => {
      const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
      if (!o) throw new Error(`${variant}: no ${kind} ${name}`);
      return o as unknown as T;
    };
    const deployment = (app: AppName): IDeployment => find<IDeployment>('Deployment', app);
    const container = (app: AppName): IContainer => {
      const containers = deployment(app).spec?.template.spec?.containers ?? [];
      expect(containers).toHaveLength(1);
      return containers[0];
    };
    const resolvedEnv = (app: AppName): Record<string, string> => envOf(container(app), app);
    const envOf = (c: IContainer, app: string): Record<string, string> => {
      const env: Record<string, string> = {};
      expect(c.envFrom).toBeUndefined();
      for (const e of c.env ?? []) {
        if (Object.hasOwn(env, e.name)) throw new Error(`${app}: ${e.name} is set twice`);
        const cm = e.valueFrom?.configMapKeyRef;
        const secret = e.valueFrom?.secretKeyRef;
        if (cm) {
          expect(cm.name).toBe('audit-config');
          if (!Object.hasOwn(configMap.data ?? {}, cm.key)) throw new Error(`${app}: audit-config has no key ${cm.key}`);
          env[e.name] = (configMap.data ?? {})[cm.key];
        } else if (secret) {
          expect(secret.name).toBe('audit-secrets');
          const value = (exampleSecret.stringData ?? {})[secret.key];
          if (value === undefined) throw new Error(`${app}: secrets.example.yaml has no key ${secret.key}`);
          env[e.name] = value;
        } else if (e.value !== undefined) {
          env[e.name] = e.value;
        } else {
          throw new Error(`${app}: ${e.name} has no value this check understands`);
        }
      }
      return env;
    };
    const configOf = (app: AppName): AppConfig => loadConfig(resolvedEnv(app));
    const portNumber = (c: IContainer, port: number | string): number | undefined =>
      typeof port === 'number'
        ? c.ports?.find((p) => p.containerPort === port)?.containerPort
        : c.ports?.find((p) => p.name === port)?.containerPort;

    it('should validate every object and keep everything in the homepot-audit namespace, without a Secret', () => {
      for (const o of objects) validateObject(o);
      expect(objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name)).toEqual([NAMESPACE]);
      for (const o of objects.filter((x) => x.kind !== 'Namespace'))
        expect(`${objectId(o)} ${o.metadata.namespace}`).toBe(`${objectId(o)} ${NAMESPACE}`);
      for (const o of objects) expect(o.metadata.labels?.[PART_OF]).toBe('homepot-audit');
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    });

    it('should keep ConfigMap keys to the variables loadConfig reads', () => {
      for (const k of Object.keys(configMap.data ?? {})) expect(KNOWN.has(k) ? k : `${k} (not in KNOWN_ENV_VARS)`).toBe(k);
    });

    it('should deploy only the apps in APPS, from the one image, named by its argument', () => {
      const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => o as unknown as IDeployment);
      expect(deployments.map((d) => d.metadata?.name).sort()).toEqual([...DEPLOYED].sort());
      for (const d of deployments) {
        const c = d.spec?.template.spec?.containers[0];
        expect(c?.image).toBe(IMAGE);
        expect(c?.command).toBeUndefined();
        expect(c?.args).toEqual([d.metadata?.name]);
        expect(Object.hasOwn(APPS, c?.args?.[0] ?? '')).toBe(true);
      }
    });

    describe.each(DEPLOYED)('%s', (app) => {
      it('should label the Deployment and select exactly its own pods', () => {
        const d = deployment(app);
        const podLabels = d.spec?.template.metadata?.labels ?? {};
        expect(d.metadata?.labels).toMatchObject({ [NAME]: app, [PART_OF]: 'homepot-audit' });
        expect(podLabels).toMatchObject({ [NAME]: app, [PART_OF]: 'homepot-audit' });
        expect(selectorMatches(d.spec?.selector, podLabels)).toBe(true);
        for (const other of DEPLOYED.filter((a) => a !== app)) {
          expect(selectorMatches(d.spec?.selector, deployment(other).spec?.template.metadata?.labels ?? {})).toBe(false);
        }
      });

      it('should set only known variables, and a configuration that loads for this app', () => {
        const env = resolvedEnv(app);
        for (const k of Object.keys(env)) expect(KNOWN.has(k) ? k : `${k} (not in KNOWN_ENV_VARS)`).toBe(k);
        expectDistributedConfig(app, configOf(app));
      });

      it('should not set batching variables the app ignores', () => {
        // AUDIT_BATCH_INTERVAL_MS paces the embedded log only; the ingest-gateway consumes nothing, so
        // AUDIT_BATCH_MAX_EVENTS (the consumer's chunk size) means nothing to it either.
        const ignored: Record<string, string[]> = {
          'api-gateway': ['AUDIT_BATCH_INTERVAL_MS'],
          'ingest-gateway': ['AUDIT_BATCH_INTERVAL_MS', 'AUDIT_BATCH_MAX_EVENTS'],
          'query-store': ['AUDIT_BATCH_INTERVAL_MS'],
        };
        expect(Object.keys(resolvedEnv(app)).filter((k) => (ignored[app] ?? []).includes(k))).toEqual([]);
      });

      it('should declare the ports its config serves and probe the health paths on the health port', () => {
        const c = container(app);
        const ports = servedPorts(app, configOf(app), resolvedEnv(app));
        const declared = (c.ports ?? []).map((p) => p.containerPort);
        expect(declared.sort()).toEqual([ports.health, ...(ports.rpc !== undefined ? [ports.rpc] : [])].sort());
        const probes = { startupProbe: c.startupProbe, livenessProbe: c.livenessProbe, readinessProbe: c.readinessProbe };
        expect(c.livenessProbe?.httpGet?.path).toBe(HEALTH_PATHS.live);
        expect(c.readinessProbe?.httpGet?.path).toBe(HEALTH_PATHS.ready);
        for (const [kind, probe] of Object.entries(probes)) {
          if (probe === undefined) continue;
          expect(Object.values(HEALTH_PATHS)).toContain(probe.httpGet?.path);
          expect(`${kind} ${portNumber(c, probe.httpGet?.port ?? -1)}`).toBe(`${kind} ${ports.health}`);
        }
        // The bare probe answers need no key: a probe that sends one would put a secret in the pod spec.
        for (const [kind, probe] of Object.entries(probes)) expect([kind, probe?.httpGet?.httpHeaders]).toEqual([kind, undefined]);
        const annotations = deployment(app).spec?.template.metadata?.annotations ?? {};
        if (app === 'api-gateway') {
          // Its /metrics needs an ops:read key, which an annotation-driven scrape cannot send: it would only collect 401s.
          expect(annotations['prometheus.io/scrape']).toBeUndefined();
        } else {
          expect([annotations['prometheus.io/port'], annotations['prometheus.io/path']]).toEqual([
            String(ports.health),
            HEALTH_PATHS.metrics,
          ]);
        }
      });

      it('should be scraped by exactly one job of the Prometheus scrape config, the API gateway with a bearer token from a file', () => {
        const c = container(app);
        const metricsPort = (c.ports ?? []).find((p) => p.containerPort === servedPorts(app, configOf(app)).health);
        const keeps = (job: ScrapeJob, label: string): RegExp | undefined => {
          const rule = job.relabel_configs?.find((r) => r.action === 'keep' && r.source_labels?.[0] === label);
          return rule?.regex === undefined ? undefined : new RegExp(`^(?:${rule.regex})$`);
        };
        const jobs = scrapeJobs().filter((j) => keeps(j, '__meta_kubernetes_pod_label_app_kubernetes_io_name')?.test(app));
        expect(jobs).toHaveLength(1);
        const [job] = jobs;
        expect(job.metrics_path).toBe(HEALTH_PATHS.metrics);
        expect(job.kubernetes_sd_configs?.[0]).toEqual({ role: 'pod', namespaces: { names: [NAMESPACE] } });
        expect(keeps(job, '__meta_kubernetes_pod_container_port_name')?.test(metricsPort?.name ?? '')).toBe(true);
        if (app === 'api-gateway') {
          expect(job.authorization?.type).toBe('Bearer');
          expect(job.authorization?.credentials_file).toMatch(/^\/etc\/prometheus\/secrets\//);
          expect(job.authorization?.credentials).toBeUndefined();
        } else {
          expect(job.authorization).toBeUndefined();
        }
      });

      it('should request and limit CPU and memory, with requests within limits', () => {
        const r = container(app).resources;
        for (const res of ['cpu', 'memory']) {
          const request = r?.requests?.[res];
          const limit = r?.limits?.[res];
          expect(request).toBeDefined();
          expect(limit).toBeDefined();
          expect(parseQuantity(request as string | number)).toBeLessThanOrEqual(parseQuantity(limit as string | number));
        }
      });

      it('should run as non-root with a read-only root filesystem, no capabilities and a writable /tmp', () => {
        const pod = deployment(app).spec?.template.spec;
        const c = container(app);
        expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
        expect(pod?.securityContext?.runAsUser).toBeGreaterThan(0);
        expect(c.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.securityContext?.capabilities?.add).toBeUndefined();
        expect(c.securityContext?.privileged).not.toBe(true);
        const tmp = c.volumeMounts?.find((m) => m.mountPath === '/tmp');
        expect(pod?.volumes?.find((v) => v.name === tmp?.name)?.emptyDir).toBeDefined();
        expect(configOf(app).dataDir.startsWith('/tmp/')).toBe(true);
        expect(pod?.automountServiceAccountToken).toBe(false);
        expect(pod?.enableServiceLinks).toBe(false);
      });

      it('should have a Service that reaches the pods on every declared port', () => {
        const svc = find<IService>('Service', app);
        const c = container(app);
        expect(svc.metadata?.labels?.[NAME]).toBe(app);
        expect(selectorMatches({ matchLabels: svc.spec?.selector }, deployment(app).spec?.template.metadata?.labels ?? {})).toBe(true);
        for (const other of DEPLOYED.filter((a) => a !== app)) {
          expect(selectorMatches({ matchLabels: svc.spec?.selector }, deployment(other).spec?.template.metadata?.labels ?? {})).toBe(false);
        }
        const targets = (svc.spec?.ports ?? []).map((p) => portNumber(c, p.targetPort ?? p.port));
        expect(targets.sort()).toEqual((c.ports ?? []).map((p) => p.containerPort).sort());
      });

      it('should scale with an HPA that owns the replica count', () => {
        const hpa = find<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', app);
        expect(hpa.spec?.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: app });
        expect(hpa.spec?.minReplicas).toBeGreaterThanOrEqual(1);
        expect(hpa.spec?.minReplicas).toBeLessThanOrEqual(hpa.spec?.maxReplicas ?? 0);
        expect(deployment(app).spec?.replicas).toBeUndefined();
        for (const m of hpa.spec?.metrics ?? []) {
          if (m.type === 'Resource' && m.resource?.target.type === 'Utilization') {
            expect(container(app).resources?.requests?.[m.resource.name]).toBeDefined();
          }
        }
        expect(hpa.spec?.metrics?.length).toBeGreaterThan(0);
      });

      it('should have a PodDisruptionBudget over its pods that still lets a node drain', () => {
        const pdb = find<IPodDisruptionBudget>('PodDisruptionBudget', app);
        expect(selectorMatches(pdb.spec?.selector, deployment(app).spec?.template.metadata?.labels ?? {})).toBe(true);
        const minReplicas = find<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', app).spec?.minReplicas ?? 1;
        const { maxUnavailable, minAvailable } = pdb.spec ?? {};
        // One of the two bounds must be set (an empty budget protects nothing).
        expect(pdb.spec).toEqual(
          expect.objectContaining(maxUnavailable !== undefined ? { maxUnavailable } : { minAvailable: expect.anything() }),
        );
        if (typeof maxUnavailable === 'number') expect(maxUnavailable).toBeGreaterThanOrEqual(1);
        if (typeof minAvailable === 'number') expect(minAvailable).toBeLessThan(minReplicas);
      });
    });

    it('should point the API gateway at the internal Services and their TCP ports', () => {
      const gw = configOf('api-gateway');
      for (const [app, target] of [
        ['ingest-gateway', gw.services.ingest],
        ['query-store', gw.services.query],
      ] as const) {
        const host = target.host.replace(new RegExp(`\\.${NAMESPACE}(\\.svc(\\.cluster\\.local)?)?$`), '');
        const svc = find<IService>('Service', host);
        const port = svc.spec?.ports?.find((p) => p.port === target.port);
        expect(port).toBeDefined();
        expect(portNumber(container(app), port?.targetPort ?? -1)).toBe(servedPorts(app, configOf(app), resolvedEnv(app)).rpc);
      }
    });

    it('should not run more query-store consumers than topic partitions', () => {
      const partitions = configOf('query-store').kafka;
      if (partitions.kind !== 'kafka') throw new Error('query-store must use Kafka');
      expect(configOf('ingest-gateway').kafka).toMatchObject({
        partitions: partitions.partitions,
        replicationFactor: partitions.replicationFactor,
      });
      expect(find<IHorizontalPodAutoscaler>('HorizontalPodAutoscaler', 'query-store').spec?.maxReplicas).toBeLessThanOrEqual(
        partitions.partitions,
      );
    });

    it("should run the kafka-topics Job with the command of `npm run kafka:topics`, on the services' topic settings", () => {
      const job = find<IJob>('Job', 'kafka-topics');
      const containers = job.spec?.template.spec?.containers ?? [];
      expect(containers).toHaveLength(1);
      const c = containers[0];
      expect(c.image).toBe(IMAGE);
      const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      expect(c.command).toEqual(pkg.scripts['kafka:topics'].replace(/^exec /, '').split(' '));
      const entry = (c.command ?? [])[1] ?? '';
      expect(fs.existsSync(path.join(ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts')))).toBe(true);
      expect(job.spec?.template.spec?.restartPolicy).toBe('OnFailure');
      expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
      const env = envOf(c, 'kafka-topics');
      for (const k of Object.keys(env)) expect(KNOWN.has(k) ? k : `${k} (not in KNOWN_ENV_VARS)`).toBe(k);
      const topics = loadConfig(env).kafka;
      const services = configOf('ingest-gateway').kafka;
      if (topics.kind !== 'kafka' || services.kind !== 'kafka') throw new Error('the Job and the ingest-gateway must use Kafka');
      for (const app of ['ingest-gateway', 'query-store'] as const) {
        expect(configOf(app).kafka).toMatchObject({
          brokers: topics.brokers,
          partitions: topics.partitions,
          replicationFactor: topics.replicationFactor,
          hotWindowMs: topics.hotWindowMs,
        });
      }
    });

    it('should admit ingress only as the design says', () => {
      const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o as unknown as INetworkPolicy);
      const pod = (app: AppName) => ({
        namespace: NAMESPACE,
        labels: deployment(app).spec?.template.metadata?.labels ?? {},
        ports: container(app).ports ?? [],
      });
      const from = (namespace: string, labels: Record<string, string>) => ({ kind: 'pod' as const, namespace, labels });
      const external = { kind: 'external' as const };
      const gateway = from(NAMESPACE, pod('api-gateway').labels);
      const neighbour = from(NAMESPACE, { app: 'debug-shell' });
      const prometheus = from('monitoring', { 'app.kubernetes.io/name': 'prometheus' });
      const stranger = from('other', pod('api-gateway').labels);

      expect(
        policies.some(
          (p) => Object.keys(p.spec?.podSelector ?? {}).length === 0 && p.spec?.policyTypes?.includes('Ingress') && !p.spec.ingress,
        ),
      ).toBe(true);

      const gwPort = servedPorts('api-gateway', configOf('api-gateway')).health;
      for (const src of [external, stranger, neighbour, prometheus])
        expect(ingressAllowed(policies, pod('api-gateway'), gwPort, src)).toBe(true);
      expect(ingressAllowed(policies, pod('api-gateway'), 9999, external)).toBe(false);

      for (const app of ['ingest-gateway', 'query-store'] as const) {
        const { rpc, health } = servedPorts(app, configOf(app));
        const other = from(NAMESPACE, pod(app === 'ingest-gateway' ? 'query-store' : 'ingest-gateway').labels);
        const verdict = (port: number, src: Parameters<typeof ingressAllowed>[3]) => ingressAllowed(policies, pod(app), port, src);
        expect([rpc, 'api-gateway', verdict(rpc as number, gateway)]).toEqual([rpc, 'api-gateway', true]);
        for (const src of [other, neighbour, prometheus, stranger, external]) expect(verdict(rpc as number, src)).toBe(false);
        for (const src of [gateway, other, neighbour, prometheus]) expect(verdict(health, src)).toBe(true);
        for (const src of [stranger, external]) expect(verdict(health, src)).toBe(false);
      }

      // The retention service asks the integrity service for each archive manifest's integrity view.
      const integrityRpc = servedPorts('integrity', configOf('integrity')).rpc as number;
      const integrityFrom = (src: Parameters<typeof ingressAllowed>[3]) => ingressAllowed(policies, pod('integrity'), integrityRpc, src);
      for (const src of [gateway, from(NAMESPACE, pod('retention').labels)]) expect(integrityFrom(src)).toBe(true);
      for (const src of [neighbour, stranger, external]) expect(integrityFrom(src)).toBe(false);
    });
  });

  describe('overlays', () => {
    const render = (dir: string) => renderKustomization(dir);
    const hpa = (objects: KubeObject[], app: string) =>
      objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && o.metadata.name === app) as unknown as IHorizontalPodAutoscaler;
    const cm = (objects: KubeObject[]) => (objects.find((o) => o.kind === 'ConfigMap') as unknown as IConfigMap).data ?? {};
    const requests = (objects: KubeObject[], app: string, res: string) =>
      parseQuantity(
        (objects.find((o) => o.kind === 'Deployment' && o.metadata.name === app) as unknown as IDeployment).spec?.template.spec
          ?.containers[0].resources?.requests?.[res] ?? 0,
      );
    let base: KubeObject[] = [];
    beforeAll(() => {
      base = render(BASE);
    });

    it('dev should run one replica of each app', () => {
      const dev = render(path.join(K8S, 'overlays/dev'));
      for (const app of DEPLOYED) expect([app, hpa(dev, app).spec?.minReplicas, hpa(dev, app).spec?.maxReplicas]).toEqual([app, 1, 1]);
    });

    it('production should run more and bigger replicas on a 12-partition topic replicated three times', () => {
      const prod = render(path.join(K8S, 'overlays/production'));
      expect([cm(prod).KAFKA_TOPIC_PARTITIONS, cm(prod).KAFKA_REPLICATION_FACTOR]).toEqual(['12', '3']);
      // The SIEM forwarder runs one replica in every variant (k8s/base/siem-forwarder.yaml says why).
      expect([hpa(prod, 'siem-forwarder').spec?.minReplicas, hpa(prod, 'siem-forwarder').spec?.maxReplicas]).toEqual([1, 1]);
      for (const app of DEPLOYED.filter((a) => a !== 'siem-forwarder')) {
        for (const res of ['cpu', 'memory']) expect(requests(prod, app, res)).toBeGreaterThan(requests(base, app, res));
        if (SINGLE_REPLICA.includes(app)) {
          expect([app, hpa(prod, app).spec?.minReplicas, hpa(prod, app).spec?.maxReplicas]).toEqual([app, 1, 1]);
          continue;
        }
        expect(hpa(prod, app).spec?.minReplicas).toBeGreaterThanOrEqual(3);
        expect(hpa(prod, app).spec?.minReplicas).toBeGreaterThan(hpa(base, app).spec?.minReplicas ?? 0);
        expect(hpa(prod, app).spec?.maxReplicas).toBeGreaterThan(hpa(base, app).spec?.maxReplicas ?? 0);
        for (const res of ['cpu', 'memory']) expect(requests(prod, app, res)).toBeGreaterThan(requests(base, app, res));
      }
    });

    it('production should reach Kafka over SASL_SSL and Postgres over TLS from every workload that connects, and dev in the clear', () => {
      const secrets = exampleSecret.stringData ?? {};
      const envs = (objects: KubeObject[]) =>
        objects
          .filter((o) => o.kind === 'Deployment' || o.kind === 'Job')
          .map((o) => {
            const c = (o as unknown as IDeployment).spec?.template.spec?.containers[0];
            const env: Record<string, string> = {};
            for (const e of c?.env ?? []) {
              const cmKey = e.valueFrom?.configMapKeyRef?.key;
              const secretKey = e.valueFrom?.secretKeyRef?.key;
              env[e.name] = cmKey !== undefined ? cm(objects)[cmKey] : secretKey !== undefined ? secrets[secretKey] : (e.value ?? '');
            }
            return { name: `${o.kind}/${o.metadata.name}`, env };
          });
      const prod = envs(render(path.join(K8S, 'overlays/production')));
      expect(prod.filter((w) => w.env.KAFKA_BROKERS).length).toBeGreaterThanOrEqual(6);
      for (const { name, env } of prod) {
        const config = loadConfig(env);
        if (env.KAFKA_BROKERS) {
          expect([name, config.kafka]).toMatchObject([name, { ssl: {}, sasl: { mechanism: 'scram-sha-512', username: 'homepot-audit' } }]);
          expect([name, env.AUDIT_KAFKA_SASL_PASSWORD]).toEqual([name, secrets.AUDIT_KAFKA_SASL_PASSWORD]);
        }
        if (env.DATABASE_URL) expect([name, config.postgres]).toMatchObject([name, { ssl: {} }]);
      }
      for (const { name, env } of envs(render(path.join(K8S, 'overlays/dev')))) {
        expect([name, env.AUDIT_KAFKA_SSL, env.AUDIT_KAFKA_SASL_PASSWORD, env.AUDIT_POSTGRES_SSL]).toEqual([
          name,
          undefined,
          undefined,
          undefined,
        ]);
      }
    });

    const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
    // The renderer above stands in for kustomize; where kubectl is installed, check it agrees with the real one.
    (kubectl.status === 0 ? it.each : it.skip.each)(variants)('%s should render exactly as kubectl kustomize does', (_variant, dir) => {
      const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      const real = new Map(
        r.stdout
          .split(/^---$/m)
          .map((d) => parse(d) as KubeObject)
          .filter(Boolean)
          .map((o) => [objectId(o), o]),
      );
      const ours = new Map(render(dir).map((o) => [objectId(o), o]));
      expect([...real.keys()].sort()).toEqual([...ours.keys()].sort());
      for (const [id, o] of ours) expect([id, real.get(id)]).toEqual([id, o]);
    });
  });
});

describe('docs/deployment.md', () => {
  it('should document every variable loadConfig reads, the secret and the probes', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/deployment.md'), 'utf8');
    for (const v of ALL_ENV_VARS) expect(doc.includes(`| \`${v}\``) ? v : `${v} (missing from the table)`).toBe(v);
    for (const p of Object.values(HEALTH_PATHS)) expect(doc).toContain(p);
    expect(doc).toContain('audit-secrets');
    expect(doc).toContain('kubectl apply -k k8s/overlays/production');
    expect(doc).toContain('k8s/monitoring/prometheus-scrape.yaml');
    expect(doc).toContain('ops:read');
  });
});
