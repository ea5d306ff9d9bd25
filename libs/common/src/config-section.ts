import { ConfigError } from './config-error';

type Env = Record<string, string | undefined>;

/**
 * The settings of one capability: the variables it reads and how, parsed by the host only in the processes
 * that run the capability (so an app parses only what it uses), and listed for the deployment checks.
 */
export interface ConfigSection<T> {
  name: string;
  variables: readonly string[];
  parse(env: Env): T;
}

export function defineConfigSection<T>(section: ConfigSection<T>): ConfigSection<T> {
  return section;
}

/** The readers a section's `parse` is written with: each names the variable in its error, never its value. */
export const env = {
  int(e: Env, name: string, def: number, min: number, max: number): number {
    const raw = e[name];
    if (raw === undefined || raw === '') return def;
    if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got '${raw}'`);
    const n = Number(raw);
    if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
    return n;
  },
  bool(e: Env, name: string, def: boolean): boolean {
    const raw = e[name];
    if (raw === undefined || raw === '') return def;
    if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
    if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
    throw new ConfigError(name, `must be true or false, got '${raw}'`);
  },
  string(e: Env, name: string, def?: string): string | undefined {
    const raw = e[name];
    return raw === undefined || raw === '' ? def : raw;
  },
  list(e: Env, name: string): string[] {
    return (e[name] ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  },
  url(e: Env, name: string, protocols: string[]): string | undefined {
    const raw = e[name];
    if (raw === undefined || raw === '') return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new ConfigError(name, 'is not a valid URL');
    }
    if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must use ${protocols.join(' or ')}`);
    return raw;
  },
};
