import { OptimizeJobs, OptimizeJobView } from './optimize-jobs';

describe(OptimizeJobs.name, () => {
  it('given a run, then its phases show as it goes, a second start while it runs is refused, and the result stays', async () => {
    const jobs = new OptimizeJobs<{ merged: string[] }>();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const ended: Array<OptimizeJobView<{ merged: string[] }>> = [];
    const started = jobs.start(
      async (phase) => {
        phase('store');
        await gate;
        phase('idempotency_keys');
        return { merged: ['events'] };
      },
      (j) => ended.push(j),
    );
    expect(started).toMatchObject({ state: 'running', status_url: `/audit/optimize/jobs/${started.id}`, result: null });
    expect(jobs.get(started.id).progress).toEqual({ phases_done: 0, phases_total: 2, phase: 'store' });
    expect(() =>
      jobs.start(
        async () => ({ merged: [] }),
        () => undefined,
      ),
    ).toThrow(new RegExp(started.status_url));
    release();
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const done = jobs.get(started.id);
    expect(done).toMatchObject({ state: 'done', result: { merged: ['events'] }, progress: { phases_done: 2, phase: null } });
    expect(done.finished_at).not.toBeNull();
    expect(ended).toHaveLength(1);
    expect(jobs.idle).toBe(true);
  });

  it('given a run that fails, then it is failed with the reason, and another may start', async () => {
    const jobs = new OptimizeJobs<number>();
    const failed = jobs.start(
      async () => {
        throw new Error('engine away');
      },
      () => undefined,
    );
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(jobs.get(failed.id)).toMatchObject({ state: 'failed', error: 'engine away' });
    expect(
      jobs.start(
        async () => 1,
        () => undefined,
      ).state,
    ).toBe('running');
    expect(() => jobs.get('nope')).toThrow(/no optimisation nope/);
  });
});
