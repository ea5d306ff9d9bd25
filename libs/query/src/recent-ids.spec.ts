import { RecentIds } from './recent-ids';

describe('RecentIds', () => {
  it('should hold the last ids added, forgetting the oldest beyond its capacity', () => {
    const recent = new RecentIds(3);
    for (const id of ['a', 'b', 'c', 'b', 'd']) recent.add(id);
    expect(['a', 'b', 'c', 'd'].map((id) => recent.has(id))).toEqual([false, true, true, true]);
    expect(recent.size).toBe(3);
  });
});
