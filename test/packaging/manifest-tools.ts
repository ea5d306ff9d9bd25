import { isDeepStrictEqual } from 'node:util';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { IContainerPort } from 'kubernetes-models/v1/ContainerPort';
import { parse, parseAllDocuments } from 'yaml';

/**
 * Small, strict readers for the packaging files, so the spec can check what kustomize, Docker and Compose
 * would do with them without those tools. Each one throws on input it does not understand rather than
 * guessing: a new kustomize feature or Dockerfile instruction makes the spec fail until it is taught.
 */

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export type LabelSelector = NonNullable<NonNullable<IPodDisruptionBudget['spec']>['selector']>;

export function readYamlDocuments(file: string): unknown[] {
  const docs = parseAllDocuments(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  return docs
    .map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${file} document ${i}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((doc) => doc !== null && doc !== undefined);
}

export function isKubeObject(value: unknown): value is KubeObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  const meta = v.metadata as Record<string, unknown> | undefined;
  return typeof v.apiVersion === 'string' && typeof v.kind === 'string' && typeof meta?.name === 'string';
}

export function listYamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listYamlFiles(full));
    else if (/\.ya?ml$/.test(entry.name)) out.push(full);
  }
  return out.sort();
}

// ---- kustomize, the subset this repo uses: resources, and JSON 6902 patches from files with a target ----

export interface PatchTarget {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
}

export interface Kustomization {
  apiVersion: string;
  kind: string;
  resources?: string[];
  patches?: { path: string; target: PatchTarget }[];
}

export const SUPPORTED_KUSTOMIZATION_FIELDS = ['apiVersion', 'kind', 'resources', 'patches'];

export function readKustomization(dir: string): Kustomization {
  const file = path.join(dir, 'kustomization.yaml');
  const k = parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const unsupported = Object.keys(k).filter((key) => !SUPPORTED_KUSTOMIZATION_FIELDS.includes(key));
  if (unsupported.length > 0) {
    throw new Error(`${file}: fields ${unsupported.join(', ')} are not understood by test/packaging/manifest-tools.ts; teach it first`);
  }
  if (k.apiVersion !== 'kustomize.config.k8s.io/v1beta1' || k.kind !== 'Kustomization')
    throw new Error(`${file}: not a v1beta1 Kustomization`);
  for (const p of (k.patches as Record<string, unknown>[] | undefined) ?? []) {
    if (typeof p.path !== 'string' || typeof p.target !== 'object' || p.target === null || 'patch' in p) {
      throw new Error(`${file}: every patch needs a path and a target (inline patches are not used here)`);
    }
  }
  return k as unknown as Kustomization;
}

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.lastIndexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

export function matchesTarget(obj: KubeObject, target: PatchTarget): boolean {
  const { group, version } = splitApiVersion(obj.apiVersion);
  return (
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version) &&
    (target.kind === undefined || target.kind === obj.kind) &&
    (target.name === undefined || target.name === obj.metadata.name) &&
    (target.namespace === undefined || target.namespace === obj.metadata.namespace)
  );
}

export interface JsonPatchOp {
  op: 'add' | 'remove' | 'replace' | 'test';
  path: string;
  value?: unknown;
}

export function readJsonPatch(file: string): JsonPatchOp[] {
  const ops = parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (!Array.isArray(ops) || ops.length === 0) throw new Error(`${file}: a JSON 6902 patch is a non-empty list of operations`);
  for (const op of ops as Record<string, unknown>[]) {
    if (!['add', 'remove', 'replace', 'test'].includes(op.op as string) || typeof op.path !== 'string') {
      throw new Error(`${file}: unsupported operation ${JSON.stringify(op)}`);
    }
    if (op.op !== 'remove' && !('value' in op)) throw new Error(`${file}: ${String(op.op)} ${String(op.path)} has no value`);
  }
  return ops as JsonPatchOp[];
}

function pointerTokens(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw new Error(`'${pointer}' is not a JSON pointer`);
  return pointer
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** RFC 6902 add/remove/replace/test on a document, in place; a path that does not exist throws, as in kustomize. */
export function applyJsonPatch(doc: unknown, ops: JsonPatchOp[]): void {
  for (const op of ops) {
    const tokens = pointerTokens(op.path);
    const last = tokens.pop() as string;
    let parent: unknown = doc;
    for (const t of tokens) {
      if (Array.isArray(parent) && /^\d+$/.test(t) && Number(t) < parent.length) parent = parent[Number(t)];
      else if (typeof parent === 'object' && parent !== null && !Array.isArray(parent) && Object.hasOwn(parent, t)) {
        parent = (parent as Record<string, unknown>)[t];
      } else throw new Error(`${op.op} ${op.path}: '${t}' does not exist`);
    }
    if (Array.isArray(parent)) {
      const index = last === '-' && op.op === 'add' ? parent.length : /^\d+$/.test(last) ? Number(last) : NaN;
      const limit = op.op === 'add' ? parent.length : parent.length - 1;
      if (!(index >= 0 && index <= limit)) throw new Error(`${op.op} ${op.path}: index out of range`);
      if (op.op === 'add') parent.splice(index, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(index, 1);
      else if (op.op === 'replace') parent[index] = structuredClone(op.value);
      else if (!isDeepStrictEqual(parent[index], op.value)) throw new Error(`test ${op.path} failed`);
    } else if (typeof parent === 'object' && parent !== null) {
      const obj = parent as Record<string, unknown>;
      if (op.op !== 'add' && !Object.hasOwn(obj, last)) throw new Error(`${op.op} ${op.path}: '${last}' does not exist`);
      if (op.op === 'add' || op.op === 'replace') obj[last] = structuredClone(op.value);
      else if (op.op === 'remove') delete obj[last];
      else if (!isDeepStrictEqual(obj[last], op.value)) throw new Error(`test ${op.path} failed`);
    } else {
      throw new Error(`${op.op} ${op.path}: parent is not a container`);
    }
  }
}

/** What `kustomize build dir` yields for the features above. Throws on a missing file or a patch that matches nothing. */
export function renderKustomization(dir: string): KubeObject[] {
  const k = readKustomization(dir);
  const objects: KubeObject[] = [];
  for (const resource of k.resources ?? []) {
    const full = path.resolve(dir, resource);
    if (!fs.existsSync(full)) throw new Error(`${dir}: resource ${resource} does not exist`);
    if (fs.statSync(full).isDirectory()) {
      if (!fs.existsSync(path.join(full, 'kustomization.yaml'))) throw new Error(`${dir}: ${resource} has no kustomization.yaml`);
      objects.push(...renderKustomization(full));
    } else {
      for (const doc of readYamlDocuments(full)) {
        if (!isKubeObject(doc)) throw new Error(`${full}: a document is not a Kubernetes object`);
        objects.push(doc);
      }
    }
  }
  for (const patch of k.patches ?? []) {
    const file = path.resolve(dir, patch.path);
    if (!fs.existsSync(file)) throw new Error(`${dir}: patch ${patch.path} does not exist`);
    const ops = readJsonPatch(file);
    const targets = objects.filter((o) => matchesTarget(o, patch.target));
    if (targets.length === 0)
      throw new Error(`${dir}: patch ${patch.path} targets ${JSON.stringify(patch.target)}, which is not in its resources`);
    for (const t of targets) {
      try {
        applyJsonPatch(t, ops);
      } catch (e) {
        throw new Error(`${dir}: patch ${patch.path} on ${t.kind}/${t.metadata.name}: ${(e as Error).message}`);
      }
    }
  }
  const seen = new Set<string>();
  for (const o of objects) {
    const id = objectId(o);
    if (seen.has(id)) throw new Error(`${dir}: ${id} is defined twice`);
    seen.add(id);
  }
  return objects;
}

export const objectId = (o: KubeObject): string => `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

// ---- label selectors and NetworkPolicy ingress semantics ----

export function selectorMatches(selector: LabelSelector | undefined, labels: Record<string, string>): boolean {
  if (selector === undefined) return false;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const values = e.values ?? [];
    if (e.operator === 'In' && !(has && values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
    if (!['In', 'NotIn', 'Exists', 'DoesNotExist'].includes(e.operator)) throw new Error(`unknown selector operator ${e.operator}`);
  }
  return true;
}

export interface PodRef {
  namespace: string;
  labels: Record<string, string>;
  ports: IContainerPort[];
}

/** A traffic source: a pod (namespace and labels), or something outside the cluster. */
export type Source = { kind: 'pod'; namespace: string; labels: Record<string, string> } | { kind: 'external' };

/** Whether NetworkPolicies admit TCP traffic from `source` to `port` of `target` (ipBlock taken as "outside the cluster"). */
export function ingressAllowed(policies: INetworkPolicy[], target: PodRef, port: number, source: Source): boolean {
  const selecting = policies.filter(
    (p) =>
      (p.metadata?.namespace ?? 'default') === target.namespace &&
      selectorMatches(p.spec?.podSelector, target.labels) &&
      (p.spec?.policyTypes ?? ['Ingress']).includes('Ingress'),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) =>
    (p.spec?.ingress ?? []).some((rule) => {
      const portOk =
        !rule.ports ||
        rule.ports.length === 0 ||
        rule.ports.some((rp) => {
          if ((rp.protocol ?? 'TCP') !== 'TCP') return false;
          if (rp.port === undefined) return true;
          const n = typeof rp.port === 'number' ? rp.port : target.ports.find((cp) => cp.name === rp.port)?.containerPort;
          return n !== undefined && (rp.endPort !== undefined ? port >= n && port <= rp.endPort : port === n);
        });
      if (!portOk) return false;
      if (!rule.from || rule.from.length === 0) return true;
      return rule.from.some((peer) => {
        if (peer.ipBlock) return source.kind === 'external';
        if (source.kind !== 'pod') return false;
        const nsLabels = { 'kubernetes.io/metadata.name': source.namespace };
        const nsOk = peer.namespaceSelector
          ? selectorMatches(peer.namespaceSelector, nsLabels)
          : source.namespace === p.metadata?.namespace;
        const podOk = peer.podSelector ? selectorMatches(peer.podSelector, source.labels) : true;
        return nsOk && podOk;
      });
    }),
  );
}

// ---- quantities ----

const SUFFIX: Record<string, number> = {
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

export function parseQuantity(q: string | number): number {
  if (typeof q === 'number') return q;
  const m = /^(\d+(?:\.\d+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(q);
  if (!m) throw new Error(`'${q}' is not a quantity this check understands`);
  return Number(m[1]) * SUFFIX[m[2] ?? ''];
}

// ---- Dockerfile ----

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

const DOCKERFILE_KEYWORDS = [
  'FROM',
  'RUN',
  'COPY',
  'ADD',
  'ENV',
  'ARG',
  'WORKDIR',
  'USER',
  'EXPOSE',
  'ENTRYPOINT',
  'CMD',
  'LABEL',
  'HEALTHCHECK',
  'VOLUME',
  'STOPSIGNAL',
  'SHELL',
];

export function parseDockerfile(text: string): Stage[] {
  const logical = text
    .replace(/\\\r?\n/g, ' ')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const stages: Stage[] = [];
  for (const line of logical) {
    const m = /^(\S+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read '${line}'`);
    const keyword = m[1].toUpperCase();
    if (!DOCKERFILE_KEYWORDS.includes(keyword)) throw new Error(`Dockerfile: unknown instruction ${keyword}`);
    const args = m[2].replace(/\s+/g, ' ').trim();
    if (keyword === 'FROM') {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`Dockerfile: cannot read FROM ${args}`);
      stages.push({ image: from[1], name: from[2], instructions: [] });
    } else {
      if (stages.length === 0 && keyword !== 'ARG') throw new Error(`Dockerfile: ${keyword} before the first FROM`);
      stages[stages.length - 1]?.instructions.push({ keyword, args });
    }
  }
  return stages;
}

/** The source paths of a COPY/ADD without --from (the last argument is the destination). */
export function copySources(args: string): { from?: string; sources: string[] } {
  const words = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(' ');
  const flags = words.filter((w) => w.startsWith('--'));
  const rest = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: rest.slice(0, -1) };
}

/** .dockerignore matching for the pattern forms used here: names, `*`, `**`, and no `!` exceptions. */
export function dockerIgnored(patterns: string[], relPath: string): boolean {
  const parts = relPath.split('/');
  const candidates = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
  return patterns.some((p) => {
    if (p.startsWith('!')) throw new Error('.dockerignore exceptions are not understood by this check');
    const re = new RegExp(
      '^' +
        p
          .replace(/^\/+/, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '\u0000')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replace(/\u0000/g, '(?:.*/)?') +
        '$',
    );
    return candidates.some((c) => re.test(c));
  });
}

// ---- Compose variable interpolation ----

/** `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `$VAR` and `$$`, as Compose does. */
export function interpolate(value: string, vars: Record<string, string | undefined>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, name?: string, op?: string, arg?: string, bare?: string) => {
      if (whole === '$$') return '$';
      if (bare !== undefined) return vars[bare] ?? '';
      const v = vars[name as string];
      const unset = op?.startsWith(':') ? v === undefined || v === '' : v === undefined;
      if (op === undefined) return v ?? '';
      if (op.endsWith('-')) return unset ? (arg ?? '') : (v as string);
      if (unset) throw new Error(`required variable ${name} is missing: ${arg ?? ''}`);
      return v as string;
    },
  );
}

export function interpolateTree(node: unknown, vars: Record<string, string | undefined>): unknown {
  if (typeof node === 'string') return interpolate(node, vars);
  if (Array.isArray(node)) return node.map((n) => interpolateTree(n, vars));
  if (typeof node === 'object' && node !== null) {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateTree(v, vars)]));
  }
  return node;
}
