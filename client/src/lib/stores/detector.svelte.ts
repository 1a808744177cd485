import { loadFaceFinder, type FaceFinder } from '../detector.ts';

/** The in-browser face detector: loading, ready, or failed with a reason. */
export class DetectorStore {
  finder = $state.raw<FaceFinder>();
  error = $state<string>();

  async load(): Promise<void> {
    try {
      this.finder = await loadFaceFinder();
    } catch (error) {
      this.error = `The face detector could not be loaded: ${error instanceof Error ? error.message : String(error)}`;
    }
  }
}
