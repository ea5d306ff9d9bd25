import { mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * One measured figure of the service beside the figure of the limit it is compared with (a bare server, the
 * engine without the service around it, or the issue's target when there is nothing to run).
 */
export interface Row {
  scenario: string;
  measure: string;
  service: number | null;
  limit: number | null;
  /** What the limit column is: "bare Fastify", "chdb direct insert", "target", ... */
  limitIs: string;
  unit: string;
  /** The goal from the issue, as text ("≥ 60 %", "p95 < 50 ms"), and whether the run met it. */
  target?: string;
  met?: boolean;
  /** Shown instead of figures when the scenario could not run. */
  skipped?: string;
  /** Extra context for the table: row counts, sample sizes. */
  note?: string;
}

function fmt(n: number | null, unit: string): string {
  if (n === null || !Number.isFinite(n)) return '–';
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  const text = n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  return unit ? `${text} ${unit}` : text;
}

export function ratioOf(row: Row): number | null {
  if (row.service === null || row.limit === null || row.limit === 0) return null;
  return row.service / row.limit;
}

function cells(row: Row): string[] {
  if (row.skipped) return [row.scenario, row.measure, `skipped: ${row.skipped}`, '', '', '', row.target ?? '', ''];
  const ratio = ratioOf(row);
  return [
    row.scenario,
    row.measure,
    fmt(row.service, row.unit),
    fmt(row.limit, row.unit),
    row.limitIs,
    ratio === null ? '–' : ratio.toFixed(2),
    row.target ?? '',
    row.met === undefined ? '' : row.met ? 'yes' : 'NO',
  ];
}

const HEADER = ['Scenario', 'Measure', 'Service', 'Limit', 'Limit is', 'Ratio', 'Target', 'Met'];

/** A single line for the console as each row is measured. */
export function printRow(row: Row): void {
  const c = cells(row);
  const line = row.skipped
    ? `${c[0]} | ${c[1]} | ${c[2]}`
    : `${c[0]} | ${c[1]} | service ${c[2]} | limit ${c[3]} (${c[4]}) | ratio ${c[5]}${row.target ? ` | target ${row.target}: ${c[7]}` : ''}`;
  process.stdout.write(`${line}${row.note ? ` | ${row.note}` : ''}\n`);
}

export function markdownTable(rows: Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map((h, i) => ((i >= 2 && i <= 3) || i === 5 ? '---:' : '---')).join('|')}|`];
  for (const r of rows) {
    const c = cells(r).map(esc);
    if (r.note) c[1] = `${c[1]} (${esc(r.note)})`;
    lines.push(`| ${c.join(' | ')} |`);
  }
  return lines.join('\n');
}

export interface MachineInfo {
  date: string;
  nproc: number;
  ramGiB: number;
  cpu: string;
  node: string;
  platform: string;
  /** 1-minute load average when the run started: other work on the machine skews every figure. */
  loadAvg: number;
}

export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    nproc: os.availableParallelism(),
    ramGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAvg: os.loadavg()[0],
  };
}

export function writeReport(file: string, mode: string, rows: Row[], machine: MachineInfo, durationS: number): string {
  const md = [
    `# HOMEPOT Audit benchmark (${mode})`,
    '',
    `${machine.date} · ${machine.nproc} CPUs (${machine.cpu}) · ${machine.ramGiB} GiB RAM · Node ${machine.node} · ${machine.platform} · ` +
      `ran ${Math.round(durationS)} s · load average ${machine.loadAvg.toFixed(1)} at start, ${os.loadavg()[0].toFixed(1)} at end`,
    '',
    markdownTable(rows),
    '',
  ].join('\n');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, md);
  return md;
}
