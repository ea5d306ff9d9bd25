import { changeImpact, planRetention, StoredDay } from './planner';
import { validatePolicy } from './policy';

const NOW = new Date('2026-12-02T12:00:00Z');
const policy = (body: Parameters<typeof validatePolicy>[0]) => validatePolicy(body, NOW).policy;

describe(planRetention.name, () => {
  const stored: StoredDay[] = [
    { category: 'user_actions', day: '2026-11-30', count: 5 }, // 2 days old: online
    { category: 'user_actions', day: '2026-11-20', count: 4 }, // due for archive (archive after 10 days)
    { category: 'user_actions', day: '2026-10-01', count: 3 }, // past retention (30 days)
    { category: 'security_events', day: '2026-10-01', count: 2 },
  ];

  it('given events of several ages, when planned, then each day is online, archived or deleted', () => {
    const plan = planRetention(policy({ retention_days: 30, archive_after_days: 10 }), [], NOW, stored);
    expect(plan.archive.map((d) => `${d.category}/${d.day}`)).toEqual(['user_actions/2026-11-20']);
    expect(plan.delete.map((d) => `${d.category}/${d.day}`)).toEqual(['security_events/2026-10-01', 'user_actions/2026-10-01']);
    expect(plan.blocked).toEqual([]);
  });

  it('given the day holding the cut-off, then it is kept whole until the whole day has passed', () => {
    // NOW - 30 days = 2026-11-02T12:00Z: 2026-11-02 is partly inside retention, 2026-11-01 wholly past it.
    const plan = planRetention(policy({ retention_days: 30 }), [], NOW, [
      { category: 'a', day: '2026-11-02', count: 1 },
      { category: 'a', day: '2026-11-01', count: 1 },
    ]);
    expect(plan.delete.map((d) => d.day)).toEqual(['2026-11-01']);
  });

  it('given a hold over one category, when planned, then its days are blocked and the others deleted', () => {
    const holds = [{ id: 'h1', category: 'security_events', from: new Date('2026-09-30T00:00:00Z'), to: new Date('2026-10-01T00:00:01Z') }];
    const plan = planRetention(policy({ retention_days: 30 }), holds, NOW, stored);
    expect(plan.blocked).toEqual([{ category: 'security_events', day: '2026-10-01', count: 2, holds: ['h1'] }]);
    expect(plan.delete.map((d) => `${d.category}/${d.day}`)).toEqual(['user_actions/2026-10-01']);
  });

  it('given a hold stored with an alias of the category, then it blocks that category as the canonical name would', () => {
    const holds = [{ id: 'h1', category: 'security', from: new Date('2026-10-01T00:00:00Z'), to: new Date('2026-10-01T23:59:59Z') }];
    const plan = planRetention(policy({ retention_days: 30 }), holds, NOW, stored);
    expect(plan.blocked).toEqual([{ category: 'security_events', day: '2026-10-01', count: 2, holds: ['h1'] }]);
  });

  it('given a category override, then that category follows it', () => {
    const plan = planRetention(
      policy({ retention_days: 30, categories: { security_events: { retention_period: 'P7Y' } } }),
      [],
      NOW,
      stored,
    );
    expect(plan.delete.map((d) => d.category)).toEqual(['user_actions']);
  });

  it('given archives past retention, then they are deleted unless held, and archived days are not archived again', () => {
    const archived = [
      { id: 'a1', category: 'user_actions', day: '2026-10-01', count: 3 },
      { id: 'a2', category: 'user_actions', day: '2026-11-20', count: 4 },
      { id: 'a3', category: 'security_events', day: '2026-10-01', count: 2 },
    ];
    const holds = [{ id: 'h1', from: new Date('2026-10-01T10:00:00Z'), to: new Date('2026-10-01T11:00:00Z'), category: 'security_events' }];
    const plan = planRetention(policy({ retention_days: 30, archive_after_days: 10 }), holds, NOW, [stored[1]], archived);
    expect(plan.archive).toEqual([]);
    // Archived but still online: only the hot copy goes.
    expect(plan.offload).toEqual([{ category: 'user_actions', day: '2026-11-20', count: 4, archived: true }]);
    // Unless it was restored and the restore has not expired.
    const restored = archived.map((a) => (a.id === 'a2' ? { ...a, restoredUntil: new Date('2026-12-05T00:00:00Z') } : a));
    expect(planRetention(policy({ retention_days: 30, archive_after_days: 10 }), holds, NOW, [stored[1]], restored).offload).toEqual([]);
    expect(plan.deleteArchives.map((a) => a.id)).toEqual(['a1']);
    expect(plan.blocked).toEqual([{ category: 'security_events', day: '2026-10-01', count: 2, holds: ['h1'], archive: 'a3' }]);
  });

  it('given events that arrived after their day was archived, then the hot copy is not removed', () => {
    const archived = [{ id: 'a2', category: 'user_actions', day: '2026-11-20', count: 3 }];
    // 4 online against 3 archived: one came late (the day was still online).
    const late = planRetention(policy({ retention_days: 30, archive_after_days: 10 }), [], NOW, [stored[1]], archived);
    expect(late.offload).toEqual([]);
    expect(late.differsFromArchive).toEqual([{ ...stored[1], archived: true, archive: 'a2', archivedCount: 3 }]);
    // The day was offloaded before and one event came late: the one online event is in no archive.
    const after = planRetention(policy({ retention_days: 30, archive_after_days: 10 }), [], NOW, [{ ...stored[1], count: 1 }], archived);
    expect(after.offload).toEqual([]);
    expect(after.differsFromArchive.map((d) => d.count)).toEqual([1]);
  });
});

describe(changeImpact.name, () => {
  const stored: StoredDay[] = [
    { category: 'a', day: '2026-06-01', count: 7 },
    { category: 'a', day: '2026-01-10', count: 3 },
  ];

  it('given a shorter retention, then the dry run counts what it would newly delete and marks it destructive', () => {
    const impact = changeImpact(policy({ retention_days: 365 }), policy({ retention_days: 100 }), [], NOW, stored, []);
    expect(impact.delete).toEqual({ events: 10, days: 2, from: '2026-01-10', to: '2026-06-01' });
    expect(impact.destructive).toBe(true);
  });

  it('given a longer retention, then nothing new happens and it is not destructive', () => {
    const impact = changeImpact(policy({ retention_days: 100 }), policy({ retention_days: 2555 }), [], NOW, stored, []);
    expect(impact.destructive).toBe(false);
    expect(impact.delete.events).toBe(0);
  });

  it("given no policy yet and the guide's body, then archiving a year-old day is destructive", () => {
    const impact = changeImpact(
      undefined,
      policy({ retention_days: 2555, archive_after_days: 365 }),
      [],
      NOW,
      [{ category: 'a', day: '2025-06-01', count: 2 }],
      [],
    );
    expect(impact.archive.events).toBe(2);
    expect(impact.destructive).toBe(true);
  });

  it('given days held only in archives, when a change puts them past retention, then deleting the archives is destructive', () => {
    // Offloaded: the hot store holds nothing of 2025-01-11, the archive is the only copy.
    const archived = [{ id: 'a1', category: 'job_management', day: '2025-01-11', count: 4 }];
    const current = policy({ retention_days: 2555, archive_after_days: 365 });
    const next = policy({ retention_days: 2555, archive_after_days: 365, categories: { job_management: { retention_days: 656 } } });
    const impact = changeImpact(current, next, [], NOW, [], archived);
    expect(impact.delete_archives).toEqual({ events: 4, days: 1, from: '2025-01-11', to: '2025-01-11' });
    expect(impact.delete.events).toBe(0);
    expect(impact.destructive).toBe(true);
    // A hold over the day keeps the archive: nothing is deleted, so it is not destructive.
    const held = [{ id: 'h1', from: new Date('2025-01-11T00:00:00Z'), to: new Date('2025-01-11T01:00:00Z') }];
    expect(changeImpact(current, next, held, NOW, [], archived).destructive).toBe(false);
  });
});
