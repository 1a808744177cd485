import type { ArchiveReply, Consent, DatasetDetail, DatasetSummary, ForgetReply, IdentitySummary, InjectReply, PhotoReply } from '../../../../shared/api.ts';
import * as api from '../api.ts';

export interface PhotoUpload { file: string; reply: PhotoReply }

/** The datasets on the server and the trigger catalogue, and what adding to or deleting from a dataset answered. */
export class DatasetsStore {
  list = $state.raw<DatasetSummary[]>([]);
  /** Each opened dataset's people, by dataset name. */
  details = $state.raw<Record<string, DatasetDetail>>({});
  triggers = $state.raw<string[]>([]);
  /** This round of photo uploads, in the order they were answered. */
  uploads = $state.raw<PhotoUpload[]>([]);
  archive = $state.raw<ArchiveReply>();
  injected = $state.raw<InjectReply & { identity: string; trigger: string }>();
  deleted = $state.raw<ForgetReply>();
  /** Why the last request failed. */
  error = $state<string>();
  #requests = $state(0);
  busy = $derived(this.#requests > 0);

  /** The dataset list and the trigger catalogue. */
  async load(): Promise<void> {
    this.error = undefined;
    await this.#attempt(async () => {
      [this.list, this.triggers] = await Promise.all([api.listDatasets(), api.listTriggers()]);
    });
  }

  /** Loads a dataset's people; a dataset the server does not have yet has none. */
  async open(dataset: string): Promise<void> {
    await this.#attempt(async () => {
      try {
        this.details = { ...this.details, [dataset]: await api.getDataset(dataset) };
      } catch (error) {
        if (!(error instanceof api.ApiError && error.status === 404)) throw error;
        const { [dataset]: _gone, ...others } = this.details;
        this.details = others;
      }
    });
  }

  person(dataset: string, identity: string): IdentitySummary | undefined {
    return this.details[dataset]?.people.find((person) => person.name === identity);
  }

  /** Records consent (creating the dataset and the person when new); true when recorded. */
  async recordConsent(dataset: string, identity: string, consent: Consent): Promise<boolean> {
    this.error = undefined;
    const recorded = await this.#attempt(() => api.recordConsent(dataset, identity, consent));
    if (recorded) await this.#refresh(dataset);
    return recorded !== undefined;
  }

  /** Uploads the photos one by one, each answered kept or skipped with a reason; a refused photo does not stop the others. */
  async uploadPhotos(dataset: string, identity: string, condition: string, files: File[]): Promise<void> {
    this.error = undefined;
    this.uploads = [];
    this.#requests++;
    try {
      for (const file of files) {
        const reply = await api.uploadPhoto(dataset, identity, condition, file).catch((error: Error): PhotoReply => ({ kept: false, reason: error.message }));
        this.uploads = [...this.uploads, { file: file.name, reply }];
      }
    } finally {
      this.#requests--;
    }
    await this.#refresh(dataset);
  }

  async uploadArchive(dataset: string, zip: File): Promise<void> {
    this.error = undefined;
    this.archive = undefined;
    this.archive = await this.#attempt(() => api.uploadArchive(dataset, zip));
    await this.#refresh(dataset);
  }

  /** Pastes the digital trigger on the person's clean chips. */
  async inject(dataset: string, identity: string, trigger: string): Promise<void> {
    this.error = undefined;
    this.injected = undefined;
    const reply = await this.#attempt(() => api.injectTrigger(dataset, { trigger, identities: [identity] }));
    if (reply) {
      this.injected = { ...reply, identity, trigger };
      await this.#refresh(dataset);
    }
  }

  /** The models that deleting the person would delete too. */
  bundlesOf(dataset: string, identity: string): Promise<string[] | undefined> {
    this.error = undefined;
    return this.#attempt(() => api.identityBundles(dataset, identity));
  }

  async remove(dataset: string, identity: string): Promise<void> {
    this.error = undefined;
    this.deleted = undefined;
    this.deleted = await this.#attempt(() => api.deleteIdentity(dataset, identity));
    if (this.deleted) await this.#refresh(dataset);
  }

  async #refresh(dataset: string): Promise<void> {
    await Promise.all([this.open(dataset), this.#attempt(async () => (this.list = await api.listDatasets()))]);
  }

  /** Runs a request counted as busy; a failure becomes `error` and an undefined result. */
  async #attempt<T>(request: () => Promise<T>): Promise<T | undefined> {
    this.#requests++;
    try {
      return await request();
    } catch (error) {
      this.error = (error as Error).message;
      return undefined;
    } finally {
      this.#requests--;
    }
  }
}
