import { StoreQueries } from './clickhouse/store-queries';
import { ClickHouseRetentionDeletes } from './retention-deletes.store';

/** The store's two calls, faked: the day holds `held` events; commands are recorded. */
function storeHolding(held: number) {
  const commands: string[] = [];
  const q = {
    rows: async () => [{ n: String(held) }],
    command: async (sql: string) => void commands.push(sql.replace(/\s+/g, ' ').trim()),
  } as unknown as StoreQueries;
  return { sut: new ClickHouseRetentionDeletes(q), commands };
}

describe(ClickHouseRetentionDeletes.name, () => {
  it('should leave an offloaded day online when it holds another count than its archive (a late event)', async () => {
    // given a day whose archive holds 5 events, and a sixth stored since the archive was read
    const { sut, commands } = storeHolding(6);
    const out = await sut.deleteDays('acme', [{ category: 'payments', day: '2025-06-01', expected: 5 }]);
    // then nothing is deleted: the late event is in no archive
    expect(out).toEqual([{ category: 'payments', day: '2025-06-01', count: 0, kept: 6 }]);
    expect(commands).toEqual([]);
  });

  it('should delete the day and its roll-up when the count matches, or when no count is expected (past retention)', async () => {
    const { sut, commands } = storeHolding(5);
    expect(await sut.deleteDays('acme', [{ category: 'payments', day: '2025-06-01', expected: 5 }])).toEqual([
      { category: 'payments', day: '2025-06-01', count: 5 },
    ]);
    expect(await sut.deleteDays('acme', [{ category: 'payments', day: '2019-03-11' }])).toEqual([
      { category: 'payments', day: '2019-03-11', count: 5 },
    ]);
    expect(commands.map((c) => c.split(' WHERE')[0])).toEqual([
      'ALTER TABLE audit.events DELETE',
      'ALTER TABLE audit.events_hourly DELETE',
      'ALTER TABLE audit.events DELETE',
      'ALTER TABLE audit.events_hourly DELETE',
    ]);
  });
});
