import type { FpStudyRequestInput, JobStatus, TrainRequestInput } from '../../../../shared/api.ts';
import * as api from '../api.ts';
import type { LiveSocket } from '../stream.ts';

const newestFirst = (a: JobStatus, b: JobStatus) => b.createdAt.localeCompare(a.createdAt);

/**
 * Training jobs: the server's list, kept current by the `job` events every page receives, and the
 * one the Train page shows. Jobs run on the server, so they outlive a reload of the page.
 */
export class JobsStore {
  /** Newest first. */
  jobs = $state.raw<JobStatus[]>([]);
  /** The job the page shows; none: the newest. */
  shownId = $state<string>();
  shown = $derived(this.jobs.find((job) => job.id === this.shownId) ?? this.jobs[0]);
  /** Why the last request failed. */
  error = $state<string>();
  #onDone: (job: JobStatus) => void;

  /** `onDone` runs once for each job seen finishing: its models now exist. */
  constructor(socket: LiveSocket, onDone: (job: JobStatus) => void = () => {}) {
    this.#onDone = onDone;
    socket.on('job', (status) => this.#update(status));
    // Events sent while the connection was down are lost: the list is read again.
    socket.on('connect', () => void this.load());
  }

  async load(): Promise<void> {
    await this.#attempt(async () => {
      const known = new Map(this.jobs.map((job) => [job.id, job.state]));
      this.jobs = [...(await api.listJobs())].sort(newestFirst);
      for (const job of this.jobs) if (job.state === 'done' && known.has(job.id) && known.get(job.id) !== 'done') this.#onDone(job);
    });
  }

  /** Starts a training and shows its job. */
  start(request: TrainRequestInput): Promise<void> {
    return this.#submit(() => api.startTraining(request));
  }

  /** Starts a false-positive study (two pairs, before and after false-positive training) and shows its job. */
  startStudy(request: FpStudyRequestInput): Promise<void> {
    return this.#submit(() => api.startFpStudy(request));
  }

  async #submit(send: () => Promise<{ job: string }>): Promise<void> {
    await this.#attempt(async () => {
      const { job } = await send();
      this.shownId = job;
      const status = await api.getJob(job);
      // A `job` event that came first is as new or newer.
      if (!this.jobs.some((known) => known.id === job)) this.#update(status);
    });
  }

  async cancel(id: string): Promise<void> {
    await this.#attempt(async () => this.#update(await api.cancelJob(id)));
  }

  show(id: string): void {
    this.shownId = id;
  }

  #update(status: JobStatus): void {
    const before = this.jobs.find((job) => job.id === status.id);
    this.jobs = [status, ...this.jobs.filter((job) => job.id !== status.id)].sort(newestFirst);
    if (status.state === 'done' && before?.state !== 'done') this.#onDone(status);
  }

  async #attempt(request: () => Promise<void>): Promise<void> {
    this.error = undefined;
    try {
      await request();
    } catch (error) {
      this.error = (error as Error).message;
    }
  }
}
