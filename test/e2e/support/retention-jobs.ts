import { eventually, http, TestApp } from './embedded-app';

/**
 * Posts a run or a restore (202, a job), then follows its status_url until it is done; answers the job. The
 * result is what the synchronous call used to answer.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function finishedJob(app: TestApp, p: string, json: unknown = {}): Promise<any> {
  const r = await http(`${app.url}${p}`, { method: 'POST', json });
  expect(r.status).toBe(202);
  expect(r.headers.get('location')).toBe(r.body.status_url);
  expect(r.body).toMatchObject({ id: expect.any(String), state: expect.stringMatching(/^(queued|running|succeeded)$/) });
  const job = await eventually(
    async () => {
      const j = await http(`${app.url}${r.body.status_url}`);
      return j.body.state === 'succeeded' || j.body.state === 'failed' ? j.body : undefined;
    },
    60_000,
    `job ${r.body.id} to finish`,
  );
  expect(job).toMatchObject({ state: 'succeeded', error: null });
  return job;
}
