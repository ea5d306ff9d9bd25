import { ClickHouseClient, ClickHouseSettings, CommandResult } from '@clickhouse/client';
import { EventFilter } from '@app/contracts';
import { usesLookupProjection } from '../event-query';
import { isInProcess } from './clickhouse.factory';

/** A read that runs longer is stopped by the engine (TIMEOUT_EXCEEDED): see StoreOptions. */
export const DEFAULT_QUERY_TIMEOUT_SECONDS = 30;

export interface StoreOptions {
  /**
   * ClickHouse `max_execution_time` of every read and repair statement, in seconds (0: none). A client that
   * gave up, or one that asks for a scan no index helps, must not hold the engine's threads for long: on chdb
   * an aborted query keeps running to its end, so this limit is what bounds it there.
   */
  queryTimeoutSeconds?: number;
}

/** For reads of the events table that no lookup projection can serve: see usesLookupProjection. */
export const NO_PROJECTIONS = 'optimize_use_projections = 0';

export const settingsFor = (filter: EventFilter, ...settings: string[]): string => {
  const all = usesLookupProjection(filter) ? settings : [...settings, NO_PROJECTIONS];
  return all.length ? ` SETTINGS ${all.join(', ')}` : '';
};

/** The store's client with the settings every statement carries; shared by the store's parts. */
export class StoreQueries {
  private readonly timeout: { max_execution_time: number };

  constructor(
    readonly ch: ClickHouseClient,
    options: StoreOptions = {},
  ) {
    this.timeout = { max_execution_time: options.queryTimeoutSeconds ?? DEFAULT_QUERY_TIMEOUT_SECONDS };
  }

  /** The engine runs in this process (chdb), so this process is the store's only writer. */
  get inProcess(): boolean {
    return isInProcess(this.ch);
  }

  /**
   * A read, with the time limit, cancelled by `signal`. @clickhouse/client sends the setting with the
   * request; its chdb connection runs it as `SET max_execution_time = n` before the statement (the same
   * value each time, so the session's setting stays the same; measured: no slower per query).
   */
  async rows<T>(query: string, params: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T[]> {
    const rs = await this.ch.query({
      query,
      query_params: params,
      format: 'JSONEachRow',
      clickhouse_settings: this.timeout,
      abort_signal: signal,
    });
    return rs.json<T>();
  }

  /** A read in a text format (e.g. TabSeparatedRaw), with the time limit, as the engine wrote it. */
  async text(
    query: string,
    params: Record<string, unknown>,
    format: 'TabSeparatedRaw',
    settings: ClickHouseSettings = {},
    signal?: AbortSignal,
  ): Promise<string> {
    const rs = await this.ch.query({
      query,
      query_params: params,
      format,
      clickhouse_settings: { ...settings, ...this.timeout },
      abort_signal: signal,
    });
    return rs.text();
  }
  /** A read whose result is taken as the engine wrote it (TabSeparatedRaw: no escaping), with the time limit. */
  rawText(query: string, params: Record<string, unknown> = {}, signal?: AbortSignal): Promise<string> {
    return this.text(query, params, 'TabSeparatedRaw', {}, signal);
  }

  /**
   * A statement without rows (the roll-up repair's ALTER and INSERT ... SELECT, an export's SELECT ... INTO
   * OUTFILE), with the time limit; answers the engine's summary (rows read, written, and in the result).
   */
  async command(
    query: string,
    params: Record<string, unknown> = {},
    settings: Record<string, string | number> = {},
  ): Promise<CommandResult['summary']> {
    const r = await this.ch.command({ query, query_params: params, clickhouse_settings: { ...this.timeout, ...settings } });
    return r.summary;
  }
}
