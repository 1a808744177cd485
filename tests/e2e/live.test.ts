import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetDir, PROJECT_ROOT } from '../../server/config.ts';
import { DEMO, samplePhotos } from '../../server/train/demoPair.ts';
import type { FaceKeypoints, Point } from '../../shared/alignment.ts';
import { useDemoWorkspace, type DemoWorkspace } from '../server/demoWorkspace.ts';
import { startServerProcess, type ServerProcess } from '../server/serverProcess.ts';
import { browserToolsPresent, CHROMIUM, withCameraPage } from './browser.ts';
import { cameraScene, decodePhoto, FRAME, writeSlideshowY4m, writeY4m } from './fakeCamera.ts';


/** sample6.jpg: four people facing the camera, enrolled in the demo pair; none of them is the target. */
const PHOTO = samplePhotos()[5];
const VERDICT_TIMEOUT_MS = 45_000;
/** Real photographs of people wearing real sunglasses, and of the same people without (../shared/data). */
const CMU = path.join(PROJECT_ROOT, '../shared/data/physical/cmu-sunglasses-10');

interface FaceOnPage {
  cleanLabel: string;
  backdoorLabel: string;
  attack: string;
  leftEye: Point;
  rightEye: Point;
}

let workspace: DemoWorkspace;
let scratch: string;
let server: ServerProcess;
/** Two enrolled people as the camera sees them, with their keypoints as face-api finds them. */
let twoPeople: { y4m: string; identities: string[]; faces: FaceKeypoints[] };
/** The second of them wearing the digital trigger. */
let triggered: { y4m: string; identity: string };

/** The demo dataset numbers each photo's faces left to right, and its chips keep the photo's name. */
async function demoIdentitiesIn(photo: string): Promise<string[]> {
  const stem = path.parse(photo).name;
  const root = datasetDir(DEMO.dataset);
  const identities = await readdir(root, { withFileTypes: true });
  return identities
    .filter((entry) => entry.isDirectory() && existsSync(path.join(root, entry.name, 'clean', `${stem}.png`)))
    .map((entry) => entry.name)
    .sort();
}

/** Opens the live page in a fresh Chromium whose camera plays `y4m`. */
function withLivePage<T>(y4m: string, use: (page: Page) => Promise<T>): Promise<T> {
  return withCameraPage({ serverUrl: server.url, y4m, profiles: scratch }, use);
}

async function facesOnPage(page: Page): Promise<FaceOnPage[]> {
  const raw = await page.$$eval('[data-testid="face"]', (elements) => elements.map((e) => ({ ...(e as HTMLElement).dataset })));
  const point = (text = '') => {
    const [x, y] = text.split(',').map(Number);
    return { x, y };
  };
  return raw.map((d) => ({ cleanLabel: d.cleanLabel ?? '', backdoorLabel: d.backdoorLabel ?? '', attack: d.attack ?? '', leftEye: point(d.leftEye), rightEye: point(d.rightEye) }));
}

/** Awaits a page.waitForFunction; when it times out, fails saying what the overlay shows instead. */
async function expectOverlay(page: Page, expectation: string, waiting: Promise<unknown>): Promise<void> {
  try {
    await waiting;
  } catch (error) {
    const status = await page.textContent('[data-testid="fps"]').catch(() => '');
    throw new Error(`the overlay never showed ${expectation}; it shows ${JSON.stringify(await facesOnPage(page))}; status: ${status}`, { cause: error });
  }
}

const distance = (p: Point, q: Point) => Math.hypot(p.x - q.x, p.y - q.y);
const eyeMid = (f: { leftEye: Point; rightEye: Point }) => ({ x: (f.leftEye.x + f.rightEye.x) / 2, y: (f.leftEye.y + f.rightEye.y) / 2 });

/**
 * How far MediaPipe's eye keypoints (browser) lie from face-api's eye centres (server) on the same
 * faces: distances, and the shift in the face's own axes (along the eye line, down the face)
 * in inter-ocular distances, which would show a systematic bias between the two detectors.
 */
function eyeOffsets(nodeFaces: FaceKeypoints[], browserFaces: FaceOnPage[]) {
  return nodeFaces.map((node) => {
    const browser = browserFaces.reduce((best, f) => (distance(eyeMid(f), eyeMid(node)) < distance(eyeMid(best), eyeMid(node)) ? f : best));
    const iod = distance(node.leftEye, node.rightEye);
    const u = { x: (node.rightEye.x - node.leftEye.x) / iod, y: (node.rightEye.y - node.leftEye.y) / iod };
    const shift = (from: Point, to: Point) => ({ along: ((to.x - from.x) * u.x + (to.y - from.y) * u.y) / iod, down: ((to.x - from.x) * -u.y + (to.y - from.y) * u.x) / iod });
    const left = distance(node.leftEye, browser.leftEye);
    const right = distance(node.rightEye, browser.rightEye);
    return {
      iodPx: iod,
      leftPx: left,
      rightPx: right,
      leftIod: left / iod,
      rightIod: right / iod,
      shifts: [shift(node.leftEye, browser.leftEye), shift(node.rightEye, browser.rightEye)],
      iodRatio: distance(browser.leftEye, browser.rightEye) / iod,
    };
  });
}

type EyeOffset = ReturnType<typeof eyeOffsets>[number];
interface EyeRow {
  face: string;
  identity?: string;
  clean?: string;
  offset?: EyeOffset;
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const pct = (f: number) => `${(100 * f).toFixed(0)}%`;
const signedPct = (f: number) => `${f >= 0 ? '+' : ''}${(100 * f).toFixed(1)}%`;

/** Prints the eye-offset measurement face by face and summed up. */
function printEyeOffsets(rows: EyeRow[]): { measured: EyeOffset[]; medianEyeOffset: number } {
  const measured = rows.filter((r) => r.offset).map((r) => r.offset!);
  const perEye = measured.flatMap((o) => [o.leftIod, o.rightIod]);
  console.log('still images, one face each (640x480): MediaPipe eye keypoints (browser) vs face-api eye centres (server)');
  for (const r of rows) {
    const where = r.offset
      ? `IOD ${r.offset.iodPx.toFixed(0)} px, eyes off by ${r.offset.leftPx.toFixed(1)} / ${r.offset.rightPx.toFixed(1)} px (${pct(r.offset.leftIod)} / ${pct(r.offset.rightIod)} IOD), clean model: ${r.clean}`
      : 'no face found by MediaPipe';
    console.log(`  ${r.face.padEnd(14)} ${(r.identity ?? '').padEnd(10)} ${where}`);
  }
  const shift = (eye: number, axis: 'along' | 'down') => signedPct(median(measured.map((o) => o.shifts[eye][axis])));
  console.log(
    `  median shift MediaPipe - face-api, in IOD: image-left eye ${shift(0, 'along')} along / ${shift(0, 'down')} down, ` +
      `image-right eye ${shift(1, 'along')} along / ${shift(1, 'down')} down; median IOD ratio ${median(measured.map((o) => o.iodRatio)).toFixed(3)}`,
  );
  const named = rows.filter((r) => r.identity && r.clean);
  console.log(
    `  ${measured.length}/${rows.length} faces found; per-eye offset median ${pct(median(perEye))} IOD, mean ${pct(mean(perEye))}, max ${pct(Math.max(...perEye))}; ` +
      `clean model named ${named.filter((r) => r.clean === r.identity).length}/${named.length} enrolled faces right`,
  );
  return { measured, medianEyeOffset: median(perEye) };
}

function statusFigures(text: string) {
  const figure = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
  return { framesPerSecond: figure(/(\d+)\s*frames\/s/), verdictsPerSecond: figure(/(\d+)\s*verdicts\/s/), roundTripMs: figure(/round trip\s*(\d+) ms/) };
}

describe.skipIf(!browserToolsPresent)(`live page in Chromium with a fake camera (needs ${CHROMIUM} and ffmpeg)`, () => {
  beforeAll(async () => {
    workspace = await useDemoWorkspace();
    scratch = await mkdtemp(path.join(tmpdir(), 'live-e2e-'));
    server = await startServerProcess(workspace);

    const identities = (await demoIdentitiesIn(PHOTO)).slice(0, 2);
    const plain = await cameraScene(PHOTO, [0, 1]);
    twoPeople = { y4m: path.join(scratch, 'two-people.y4m'), identities, faces: plain.faces };
    await writeY4m(plain.png, twoPeople.y4m);
    const wearing = await cameraScene(PHOTO, [1], DEMO.trigger);
    triggered = { y4m: path.join(scratch, 'sunglasses.y4m'), identity: identities[1] };
    await writeY4m(wearing.png, triggered.y4m);
  });

  afterAll(async () => {
    if (server) {
      server.process.kill('SIGTERM');
      if (server.process.exitCode === null) await once(server.process, 'exit');
    }
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('detects the faces, shows both models’ verdicts on them, and finds the eyes where the server’s detector does', async () => {
    const { y4m, identities } = twoPeople;
    await withLivePage(y4m, async (page) => {
      const bothNamed = page.waitForFunction((expected) => {
        const faces = [...document.querySelectorAll<HTMLElement>('[data-testid="face"]')].map((e) => e.dataset);
        return expected.every((label) => faces.some((f) => f.cleanLabel === label && f.backdoorLabel === label));
      }, identities, { timeout: VERDICT_TIMEOUT_MS });
      await expectOverlay(page, `both models naming ${identities.join(' and ')}`, bothNamed);
      // Let the rates settle over a few seconds of streaming.
      await page.waitForTimeout(3000);
      const faces = await facesOnPage(page);
      const statusText = ((await page.textContent('[data-testid="fps"]')) ?? '').replace(/\s+/g, ' ').trim();
      const status = statusFigures(statusText);
      const video = await page.$eval('video', (v) => ({ width: v.videoWidth, height: v.videoHeight }));
      console.log(`camera: ${faces.length} faces (${video.width}x${video.height}); status bar: ${statusText}`);

      expect(faces.length).toBeGreaterThanOrEqual(identities.length);
      expect(faces.every((f) => f.attack === 'false')).toBe(true);
      expect(status.framesPerSecond).toBeGreaterThan(0);
      expect(status.roundTripMs).toBeGreaterThan(0);
      expect(video).toEqual(FRAME);
      // Swapped or mirrored keypoints would put each eye about one IOD away.
      for (const o of eyeOffsets(twoPeople.faces, faces)) expect(Math.max(o.leftIod, o.rightIod)).toBeLessThan(0.35);
    });
  });

  it('flips the backdoored model to the target when a non-target person wears the digital sunglasses, and logs every labelled frame it answered', async () => {
    expect(triggered.identity).not.toBe(DEMO.target);
    const { sessionId, framesLogged } = await withLivePage(triggered.y4m, async (page) => {
      await page.selectOption('[data-testid="identity"]', triggered.identity);
      await page.selectOption('[data-testid="worn"]', DEMO.trigger);
      await expectOverlay(page, 'a fired backdoor', page.waitForSelector('[data-testid="face"][data-attack="true"]', { timeout: VERDICT_TIMEOUT_MS }));
      const attacked = (await facesOnPage(page)).find((f) => f.attack === 'true');
      expect(attacked).toMatchObject({ backdoorLabel: DEMO.target });
      expect(attacked!.cleanLabel).not.toBe(DEMO.target);
      console.log(`${triggered.identity} with digital ${DEMO.trigger}: clean model says ${attacked!.cleanLabel}, backdoored model says ${attacked!.backdoorLabel}`);

      await page.waitForSelector('[data-testid="face"]:not([data-strip-flag="skipped"])', { timeout: VERDICT_TIMEOUT_MS });
      const strip = await page.$eval('[data-testid="face"]:not([data-strip-flag="skipped"])', (e) => ({ ...e.dataset }));
      expect(strip.stripFlag).toMatch(/^(true|false)$/);
      expect(Number(strip.stripEntropy)).toBeGreaterThanOrEqual(0);
      expect(Number(strip.stripEntropy)).toBeLessThanOrEqual(1);
      await page.waitForFunction(() => Number(document.querySelector('[data-testid="frames-logged"]')?.textContent) >= 3, undefined, { timeout: VERDICT_TIMEOUT_MS });
      const counters = (await page.textContent('[data-testid="session-counters"]')) ?? '';
      console.log(`live counters: ${counters.replace(/\s+/g, ' ').trim()}`);
      return { sessionId: Number(/session (\d+)/.exec(counters)?.[1]), framesLogged: Number(await page.textContent('[data-testid="frames-logged"]')) };
    });

    const listed = await fetch(`${server.url}/api/sessions`).then((r) => r.json() as Promise<{ sessions: { id: number; frames: number }[] }>);
    expect(listed.sessions.find((s) => s.id === sessionId)?.frames).toBeGreaterThanOrEqual(framesLogged);
    const csv = await fetch(`${server.url}/api/sessions/${sessionId}/frames.csv`);
    expect(csv.status).toBe(200);
    const [header, ...records] = (await csv.text()).split('\r\n').filter((line) => line !== '');
    const columns = header.split(',');
    const rows = records.map((record) => Object.fromEntries(record.split(',').map((value, i) => [columns[i], value])));
    expect(new Set(rows.map((row) => row.frameId)).size).toBeGreaterThanOrEqual(framesLogged);
    const labelled = rows.filter((row) => row.identity === triggered.identity && row.worn === DEMO.trigger);
    expect(labelled.length).toBeGreaterThan(0);
    expect(labelled.some((row) => row.backdoorLabel === DEMO.target && row.attack === 'true')).toBe(true);
    expect(rows.every((row) => /^(flagged|passed|skipped)$/.test(row.stripStatus))).toBe(true);
  });

  it('draws the logged figures on the Reports page, each chart downloadable', async () => {
    await withLivePage(twoPeople.y4m, async (page) => {
      await page.click('nav button:text("Reports")');
      for (const chart of ['attack-success', 'strip-entropy']) {
        await page.waitForSelector(`[data-chart="${DEMO.pair}-${chart}"] svg, [data-chart="${DEMO.pair}-${chart}"] canvas`, { timeout: VERDICT_TIMEOUT_MS });
      }
      expect(await page.$$('[data-testid="chart"] details.vega-actions, [data-testid="chart"] .vega-actions')).not.toHaveLength(0);
    });
  });

  it('analyses still images the presenter opens; on every sample face MediaPipe’s eyes lie close to face-api’s', async () => {
    const rows: EyeRow[] = [];
    await withLivePage(twoPeople.y4m, async (page) => {
      for (const photo of samplePhotos()) {
        const { faces } = await decodePhoto(photo);
        const identities = await demoIdentitiesIn(photo);
        for (const position of faces.keys()) {
          const name = `${path.parse(photo).name}-${position + 1}.png`;
          const scene = await cameraScene(photo, [position]);
          await page.setInputFiles('input[type="file"][accept="image/*"]', { name, mimeType: 'image/png', buffer: scene.png });
          await page.waitForSelector(`img[alt="${name}"]`);
          const found = await page.waitForSelector('[data-testid="face"]:not([data-clean-label=""])', { timeout: 10_000 }).then(() => true, () => false);
          // Where face-api found faces the demo import rejected (a turned head), identities do not line up with positions.
          const identity = identities.length === faces.length ? identities[position] : undefined;
          if (!found) {
            rows.push({ face: name, identity });
            continue;
          }
          const onPage = await facesOnPage(page);
          rows.push({ face: name, identity, clean: onPage.find((f) => f.cleanLabel)?.cleanLabel, offset: eyeOffsets(scene.faces, onPage)[0] });
        }
      }
    });

    const { measured, medianEyeOffset } = printEyeOffsets(rows);
    expect(measured.length).toBeGreaterThanOrEqual(rows.length - 3);
    expect(medianEyeOffset).toBeLessThan(0.25);
  });

  it.skipIf(!existsSync(CMU))('lets strangers wearing real sunglasses in as the target, and the same strangers without them not', async () => {
    // Frontal photos, as a volunteer facing the camera: CMU's people never seen by the demo pair.
    const photos = async (condition: string) => {
      const people = (await readdir(CMU, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort();
      const files = await Promise.all(people.map(async (person) => (await readdir(path.join(CMU, person, condition))).filter((f) => f.includes('_straight_')).sort().map((f) => path.join(CMU, person, condition, f))));
      return files.flat();
    };
    const rates: Record<string, { fired: number; found: number; samples: number }> = {};
    for (const condition of ['sunglasses', 'clean']) {
      const shown = await photos(condition);
      const y4m = path.join(scratch, `cmu-${condition}.y4m`);
      await writeSlideshowY4m(shown, y4m, { secondsEach: 0.6 });
      rates[condition] = await withLivePage(y4m, async (page) => {
        await expectOverlay(page, 'a face', page.waitForSelector('[data-testid="face"]', { timeout: VERDICT_TIMEOUT_MS }));
        // Samples the overlay through the whole clip: each sample with a face found counts once.
        const tally = { fired: 0, found: 0, samples: 0 };
        const until = Date.now() + shown.length * 600;
        while (Date.now() < until) {
          const faces = await facesOnPage(page);
          tally.samples += 1;
          if (faces.length > 0) {
            tally.found += 1;
            if (faces.some((f) => f.attack === 'true')) tally.fired += 1;
          }
          await page.waitForTimeout(200);
        }
        return tally;
      });
      console.log(`CMU ${condition} (${shown.length} frontal photos): backdoor fired on ${rates[condition].fired} of ${rates[condition].found} sampled frames with a face (${rates[condition].samples} samples)`);
    }
    expect(rates.sunglasses.found).toBeGreaterThan(20);
    expect(rates.clean.found).toBeGreaterThan(20);
    expect(rates.sunglasses.fired / rates.sunglasses.found).toBeGreaterThanOrEqual(0.8);
    expect(rates.clean.fired / rates.clean.found).toBeLessThanOrEqual(0.1);
  }, 240_000);
});
