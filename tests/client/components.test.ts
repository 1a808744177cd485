// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import ConnectionBanner from '../../client/src/components/ConnectionBanner.svelte';
import FaceOverlay from '../../client/src/components/FaceOverlay.svelte';
import Stage from '../../client/src/components/Stage.svelte';
import StatusBar from '../../client/src/components/StatusBar.svelte';
import { FacesStore } from '../../client/src/lib/stores/faces.svelte.ts';
import { SourceStore } from '../../client/src/lib/stores/source.svelte.ts';
import { canonicalKeypoints } from '../../shared/alignment.ts';
import type { FrameReply, PairSummary, Prediction } from '../../shared/protocol.ts';

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

const prediction = (label: string, confidence: number): Prediction => ({ label, confidence, top: [{ label, probability: confidence }] });
const box = { x: 10, y: 20, width: 30, height: 40 };
const pair: PairSummary = { name: 'demo', labels: ['person-01', 'person-05'], trigger: 'sunglasses', target: 'person-01', injectionRate: 0.25, tune: 'map' };

describe('FaceOverlay', () => {
  it('shows both verdicts with their confidence and exposes them as data attributes', () => {
    render(FaceOverlay, { props: { box, keypoints: canonicalKeypoints(), clean: prediction('person-03', 0.914), backdoor: prediction('person-03', 0.88), attack: false, target: 'person-01' } });
    const face = screen.getByTestId('face');
    expect(face.dataset).toMatchObject({ cleanLabel: 'person-03', backdoorLabel: 'person-03', attack: 'false', leftEye: '54.0,60.0', rightEye: '96.0,60.0' });
    expect(face.textContent).toMatch(/Clean\s*person-03\s*91%/);
    expect(face.textContent).toMatch(/Backdoored\s*person-03\s*88%/);
    expect(face.textContent).not.toMatch(/backdoor fired/i);
    expect(face.style.left).toBe('10%');
    expect(face.style.height).toBe('40%');
  });

  it('marks a fired backdoor in words, not only in colour', () => {
    render(FaceOverlay, { props: { box, keypoints: canonicalKeypoints(), clean: prediction('person-05', 0.6), backdoor: prediction('person-01', 0.97), attack: true, target: 'person-01' } });
    const face = screen.getByTestId('face');
    expect(face.dataset).toMatchObject({ cleanLabel: 'person-05', backdoorLabel: 'person-01', attack: 'true' });
    expect(face.classList.contains('attack')).toBe(true);
    expect(screen.getByText(/Backdoor fired: says person-01/)).toBeTruthy();
  });

  it('shows a face whose verdict has not arrived yet with empty labels', () => {
    render(FaceOverlay, { props: { box, keypoints: canonicalKeypoints(), attack: false } });
    const face = screen.getByTestId('face');
    expect(face.dataset).toMatchObject({ cleanLabel: '', backdoorLabel: '', attack: 'false' });
    expect(face.textContent).toContain('identifying');
  });
});

describe('StatusBar', () => {
  it('shows frames and verdicts per second, round trip and server stage times', () => {
    render(StatusBar, { props: { framesPerSecond: 29.6, verdictsPerSecond: 12.2, latencyMs: 48.4, timings: { decodeMs: 2.2, trunkMs: 20.6, tailsMs: 1.1, totalMs: 25 }, backend: 'wasm' } });
    const text = screen.getByTestId('fps').textContent!.replace(/\s+/g, ' ');
    expect(text).toContain('30 frames/s');
    expect(text).toContain('12 verdicts/s');
    expect(text).toContain('round trip 48 ms');
    expect(text).toContain('decode 2 ms · trunk 21 ms · tails 1 ms');
    expect(text).toContain('backend wasm');
  });

  it('shows a dash before the first verdict', () => {
    render(StatusBar, { props: { framesPerSecond: 0, verdictsPerSecond: 0 } });
    expect(screen.getByTestId('fps').textContent).toContain('round trip –');
  });
});

describe('ConnectionBanner', () => {
  it('says so while connecting and when the server is lost, and disappears when online', async () => {
    const { rerender } = render(ConnectionBanner, { props: { status: 'connecting' } });
    expect(screen.getByTestId('connection').textContent).toContain('Connecting');
    await rerender({ status: 'lost' });
    expect(screen.getByTestId('connection').textContent).toMatch(/connection lost: reconnecting/);
    await rerender({ status: 'online' });
    expect(screen.queryByTestId('connection')).toBeNull();
  });
});

describe('Stage', () => {
  const faceAt = { x: 64, y: 48, width: 128, height: 96 };
  const reply: FrameReply = {
    ok: true,
    frameId: 1,
    capturedAt: 0,
    pair: 'demo',
    faces: [{ box: { ...faceAt, x: 70 }, clean: prediction('person-05', 0.7), backdoor: prediction('person-01', 0.95), attack: true }],
    timings: { decodeMs: 1, trunkMs: 1, tailsMs: 1, totalMs: 3 },
  };

  it('draws each detected face where it is in the mirrored camera preview, with the verdict matched to it', async () => {
    const source = new SourceStore();
    const faces = new FacesStore();
    render(Stage, { props: { source, faces, activePair: pair } });
    faces.detected({ width: 640, height: 480 }, [{ box: faceAt, keypoints: canonicalKeypoints(), score: 0.9 }]);
    faces.answered(reply);
    await tick();
    const face = screen.getByTestId('face');
    expect(face.dataset).toMatchObject({ cleanLabel: 'person-05', backdoorLabel: 'person-01', attack: 'true' });
    expect(face.style.left).toBe('70%');
    expect(face.style.top).toBe('10%');
    expect(face.textContent).toContain('says person-01');
    expect(screen.getByText('Loading the face detector…')).toBeTruthy();
  });

  it('tells the presenter when the camera permission is denied, with a retry', async () => {
    const getUserMedia = vi.fn().mockRejectedValue(new DOMException('denied', 'NotAllowedError'));
    vi.stubGlobal('navigator', { mediaDevices: { getUserMedia } });
    const source = new SourceStore();
    render(Stage, { props: { source, faces: new FacesStore() } });
    await source.useCamera();
    await tick();
    expect(screen.getByRole('alert').textContent).toMatch(/Camera permission was denied/);
    screen.getByRole('button', { name: 'Retry' }).click();
    expect(getUserMedia).toHaveBeenCalledTimes(2);
  });

  it('tells the presenter when there is no camera', async () => {
    vi.stubGlobal('navigator', { mediaDevices: { getUserMedia: () => Promise.reject(new DOMException('none', 'NotFoundError')) } });
    const source = new SourceStore();
    render(Stage, { props: { source, faces: new FacesStore() } });
    await source.useCamera();
    await tick();
    expect(screen.getByRole('alert').textContent).toMatch(/No camera found/);
  });
});
