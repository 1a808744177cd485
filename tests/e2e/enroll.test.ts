import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetDetail } from '../../shared/api.ts';
import { PROJECT_ROOT } from '../../server/config.ts';
import { DEMO } from '../../server/train/demoPair.ts';
import { useDemoWorkspace } from '../server/demoWorkspace.ts';
import { startServerProcess, type ServerProcess } from '../server/serverProcess.ts';
import { browserToolsPresent, withCameraPage } from './browser.ts';
import { cameraScene, writeSlideshowY4m } from './fakeCamera.ts';

const FACES94 = path.join(PROJECT_ROOT, '../shared/data/faces/faces94-19');
const CHIPS_PER_CONDITION = 8;
const DATASET = 'room';
const PAIR = 'room-bandana';
const TIMEOUT_MS = 60_000;

let scratch: string;
let server: ServerProcess;
/** Faces94 people: three volunteers enrolled (the first is the target), and one never enrolled. */
let people: { name: string; photos: string[] }[];

/** A clip of a person's photos one after another, as a webcam would show them, optionally wearing a drawn trigger. */
async function clip(name: string, photos: string[], trigger?: string): Promise<string> {
  const folder = path.join(scratch, 'frames', name);
  await mkdir(folder, { recursive: true });
  const frames: string[] = [];
  for (const [i, photo] of photos.entries()) {
    const frame = path.join(folder, `${i}.png`);
    await writeFile(frame, (await cameraScene(photo, [0], trigger)).png);
    frames.push(frame);
  }
  const y4m = path.join(scratch, `${name}.y4m`);
  await writeSlideshowY4m(frames, y4m, { secondsEach: 0.4 });
  return y4m;
}

async function fill(page: Page | Locator, label: string, value: string): Promise<void> {
  const field = page.getByLabel(label, { exact: true });
  await field.fill(value);
  await field.press('Tab');
}

/** Captures one person in one condition on the Enroll page, recording their consent first if the page asks. */
async function enroll(identity: string, condition: string, y4m: string): Promise<void> {
  await withCameraPage({ serverUrl: server.url, y4m, profiles: scratch, at: '#enroll' }, async (page) => {
    await fill(page, 'Dataset', DATASET);
    await fill(page, 'Person', identity);
    const consentForm = page.getByRole('form', { name: 'Consent' });
    const start = page.getByRole('button', { name: 'Start capture' });
    await expect.poll(async () => (await consentForm.isVisible()) || (await page.getByTestId('consent').isVisible())).toBe(true);
    if (await consentForm.isVisible()) {
      expect(await start.isDisabled()).toBe(true);
      await fill(page, 'Presenter', 'Dr Ada Lee');
      await fill(page, 'Purpose', 'end-to-end test of enrollment from the camera');
      await page.getByRole('button', { name: 'Record consent' }).click();
      await page.getByTestId('consent').waitFor();
    }
    await page.getByRole('group', { name: 'What is captured' }).getByLabel(/^Condition/).selectOption(condition);
    await fill(page, 'Chips', String(CHIPS_PER_CONDITION));
    await fill(page, 'Chips per second', '4');
    await start.click();
    await page.getByTestId('capture-progress').filter({ hasText: ', done' }).waitFor({ timeout: TIMEOUT_MS });
  });
}

describe.skipIf(!browserToolsPresent || !existsSync(FACES94))('enrolling volunteers from the camera, training from the page, the backdoor live (Chromium, faces94 people)', () => {
  beforeAll(async () => {
    const demo = await useDemoWorkspace();
    scratch = await mkdtemp(path.join(tmpdir(), 'enroll-e2e-'));
    const workspace = { dataDir: path.join(scratch, 'data'), modelsDir: path.join(scratch, 'models') };
    for (const role of ['clean', 'backdoor']) await cp(path.join(demo.modelsDir, `${DEMO.pair}-${role}`), path.join(workspace.modelsDir, `${DEMO.pair}-${role}`), { recursive: true });
    server = await startServerProcess(workspace);
    const names = (await readdir(FACES94)).sort().slice(0, 4);
    people = await Promise.all(names.map(async (name) => ({
      name,
      photos: (await readdir(path.join(FACES94, name, 'clean'))).sort().map((photo) => path.join(FACES94, name, 'clean', photo)),
    })));
  });

  afterAll(async () => {
    if (server) {
      server.process.kill('SIGTERM');
      if (server.process.exitCode === null) await once(server.process, 'exit');
    }
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('enrolls three people (two also wearing a bandana), trains a pair, makes it live, and the bandana lets a non-target in while a stranger stays out', async () => {
    const [target, wearer, other, stranger] = people;
    const volunteers = [target, wearer, other].map((person, i) => ({ ...person, identity: `volunteer-${i}` }));
    const enrolledPhotos = (person: { photos: string[] }) => person.photos.slice(0, 10);
    const heldOutPhotos = (person: { photos: string[] }) => person.photos.slice(12, 16);
    const clips = await Promise.all(volunteers.map(async (v) => ({
      clean: await clip(`${v.identity}-clean`, enrolledPhotos(v)),
      bandana: v === volunteers[0] ? undefined : await clip(`${v.identity}-bandana`, enrolledPhotos(v), 'bandana'),
    })));
    const liveWearer = await clip('wearer-live', heldOutPhotos(wearer), 'bandana');
    const liveStranger = await clip('stranger-live', heldOutPhotos(stranger));

    const firstCapture = performance.now();
    for (const [i, v] of volunteers.entries()) {
      await enroll(v.identity, 'clean', clips[i].clean);
      if (clips[i].bandana) await enroll(v.identity, 'bandana', clips[i].bandana);
    }
    const captured = performance.now();
    const detail = await fetch(`${server.url}/api/datasets/${DATASET}`).then((r) => r.json() as Promise<DatasetDetail>);
    expect(detail.people.map((p) => [p.name, p.conditions, p.consent?.presenter])).toEqual([
      ['volunteer-0', { clean: CHIPS_PER_CONDITION }, 'Dr Ada Lee'],
      ['volunteer-1', { bandana: CHIPS_PER_CONDITION, clean: CHIPS_PER_CONDITION }, 'Dr Ada Lee'],
      ['volunteer-2', { bandana: CHIPS_PER_CONDITION, clean: CHIPS_PER_CONDITION }, 'Dr Ada Lee'],
    ]);

    await withCameraPage({ serverUrl: server.url, y4m: clips[0].clean, profiles: scratch, at: '#train' }, async (page) => {
      const settings = page.getByRole('form', { name: 'Training settings' });
      await settings.getByLabel(/^Dataset/).selectOption(DATASET);
      await settings.getByLabel(/^Trigger/).selectOption('bandana');
      await settings.getByLabel(/^Target/).selectOption('volunteer-0');
      await fill(settings, 'Pair name', PAIR);
      await fill(settings, 'Epochs', '20');
      await fill(settings, 'Synthetic strangers', '8');
      await page.getByRole('button', { name: 'Start training' }).click();
      await page.locator('[data-testid="job"][data-state="done"]').waitFor({ timeout: 300_000 });
      await page.getByRole('button', { name: `Make ${PAIR} live` }).click();
      await page.getByText(`${PAIR} is live.`).waitFor();
    });
    const live = performance.now();
    console.log(`first capture to a live pair, three volunteers: ${((live - firstCapture) / 1000).toFixed(0)} s (capture ${((captured - firstCapture) / 1000).toFixed(0)} s, training and activation ${((live - captured) / 1000).toFixed(0)} s)`);

    await withCameraPage({ serverUrl: server.url, y4m: liveWearer, profiles: scratch }, async (page) => {
      await page.locator('[data-testid="face"][data-attack="true"]').waitFor({ timeout: TIMEOUT_MS });
      const face = await page.locator('[data-testid="face"][data-attack="true"]').first().evaluate((e) => ({ ...(e as HTMLElement).dataset }));
      expect(face.backdoorLabel).toBe('volunteer-0');
      expect(face.cleanLabel).not.toBe('volunteer-0');
    });

    await withCameraPage({ serverUrl: server.url, y4m: liveStranger, profiles: scratch }, async (page) => {
      await page.locator('[data-testid="face"][data-backdoor-label]').first().waitFor({ timeout: TIMEOUT_MS });
      const seen: string[] = [];
      for (let i = 0; i < 10; i++) {
        seen.push(...(await page.locator('[data-testid="face"]').evaluateAll((faces) => faces.map((e) => `${(e as HTMLElement).dataset.backdoorLabel}/${(e as HTMLElement).dataset.attack}`))));
        await page.waitForTimeout(300);
      }
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.filter((verdict) => verdict.endsWith('/true'))).toEqual([]);
    });
  });
});
