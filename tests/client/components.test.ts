// @vitest-environment jsdom
import { cleanup, render, screen } from '@testing-library/svelte';
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import ConnectionBanner from '../../client/src/components/ConnectionBanner.svelte';
import FaceOverlay from '../../client/src/components/FaceOverlay.svelte';
import EntropyTrend from '../../client/src/components/EntropyTrend.svelte';
import OperatorPanel from '../../client/src/components/OperatorPanel.svelte';
import Stage from '../../client/src/components/Stage.svelte';
import StatusBar from '../../client/src/components/StatusBar.svelte';
import { FacesStore } from '../../client/src/lib/stores/faces.svelte.ts';
import { SourceStore } from '../../client/src/lib/stores/source.svelte.ts';
import { canonicalKeypoints } from '../../shared/alignment.ts';
import type { FrameReply, PairSummary, Prediction } from '../../shared/protocol.ts';
import { rate } from '../../shared/metrics.ts';

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

describe('FaceOverlay STRIP', () => {
  it('shows the STRIP entropy and flag and exposes them as data attributes', () => {
    render(FaceOverlay, { props: { box, keypoints: canonicalKeypoints(), clean: prediction('person-05', 0.6), backdoor: prediction('person-01', 0.97), attack: true, strip: { entropy: 0.0421, flagged: true } } });
    const face = screen.getByTestId('face');
    expect(face.dataset).toMatchObject({ stripEntropy: '0.042', stripFlag: 'true' });
    expect(face.textContent).toMatch(/STRIP\s*flagged\s*entropy 0\.04/);
  });

  it('says STRIP skipped a face it has no result for', () => {
    render(FaceOverlay, { props: { box, keypoints: canonicalKeypoints(), clean: prediction('person-05', 0.6), backdoor: prediction('person-05', 0.7), attack: false } });
    const face = screen.getByTestId('face');
    expect(face.dataset).toMatchObject({ stripEntropy: '', stripFlag: 'skipped' });
    expect(face.textContent).toMatch(/STRIP\s*skipped/);
  });

  it('places a STRIP result that arrives frames later on the face it was measured on', () => {
    const faces = new FacesStore();
    const far = { x: 300, y: 20, width: 30, height: 40 };
    faces.detected({ width: 640, height: 480 }, [{ box, keypoints: canonicalKeypoints(), score: 0.9 }, { box: far, keypoints: canonicalKeypoints(), score: 0.9 }]);
    const verdict = { clean: prediction('person-05', 0.6), backdoor: prediction('person-05', 0.6), attack: false };
    faces.answered({ ok: true, frameId: 3, capturedAt: 0, pair: 'demo', faces: [{ box: far, ...verdict }, { box, ...verdict }], timings: { decodeMs: 0, queueMs: 0, trunkMs: 0, tailsMs: 0, totalMs: 0, batch: 1 } });
    faces.answered({ ok: true, frameId: 4, capturedAt: 0, pair: 'demo', faces: [], timings: { decodeMs: 0, queueMs: 0, trunkMs: 0, tailsMs: 0, totalMs: 0, batch: 1 } });
    faces.stripArrived({ frameId: 3, status: 'ran', ms: 300, faces: [{ entropy: 0.9, flagged: false }, { entropy: 0.1, flagged: true }] });
    faces.stripArrived({ frameId: 4, status: 'skipped' });
    expect(faces.matchedStrips.map((s) => s?.entropy)).toEqual([0.1, 0.9]);
    expect(faces.entropyHistory.map((p) => p.entropy)).toEqual([0.9, 0.1]);
  });

  it('draws the rolling STRIP entropy, flagged faces marked', () => {
    render(EntropyTrend, { props: { points: [{ id: 0, entropy: 0.8, flagged: false }, { id: 1, entropy: 0.05, flagged: true }] } });
    expect(screen.getByTestId('entropy-trend').dataset.points).toBe('2');
    const dots = [...screen.getByTestId('entropy-trend').querySelectorAll<HTMLElement>('.dot')];
    expect(dots.map((d) => [d.style.left, d.style.bottom, d.classList.contains('flagged')])).toEqual([['0%', '80%', false], ['100%', '5%', true]]);
  });

  it('marks the selected face and reports clicks on a face', async () => {
    const onselect = vi.fn();
    render(FaceOverlay, { props: { box, keypoints: canonicalKeypoints(), attack: false, selected: true, onselect } });
    const face = screen.getByTestId('face');
    expect(face.dataset.selected).toBe('true');
    face.click();
    expect(onselect).toHaveBeenCalledOnce();
  });
});

describe('OperatorPanel', () => {
  it('sets who is in front of the camera and what they wear, including a typed accessory', async () => {
    const onlabels = vi.fn();
    const { rerender } = render(OperatorPanel, { props: { pair, labels: { identity: null, worn: null }, onlabels, onlargest: () => {} } });
    const identity = screen.getByTestId('identity') as HTMLSelectElement;
    expect([...identity.options].map((o) => o.value)).toEqual(['', 'person-01', 'person-05', 'unknown']);
    identity.value = 'unknown';
    identity.dispatchEvent(new Event('change', { bubbles: true }));
    expect(onlabels).toHaveBeenLastCalledWith({ identity: 'unknown', worn: null });

    await rerender({ pair, labels: { identity: 'unknown', worn: null }, onlabels, onlargest: () => {} });
    const worn = screen.getByTestId('worn') as HTMLSelectElement;
    expect([...worn.options].map((o) => o.value)).toEqual(['', 'none', 'sunglasses', 'other']);
    worn.value = 'sunglasses';
    worn.dispatchEvent(new Event('change', { bubbles: true }));
    expect(onlabels).toHaveBeenLastCalledWith({ identity: 'unknown', worn: 'sunglasses' });

    worn.value = 'other';
    worn.dispatchEvent(new Event('change', { bubbles: true }));
    await tick();
    const accessory = screen.getByTestId('accessory') as HTMLInputElement;
    accessory.value = ' headband ';
    accessory.dispatchEvent(new Event('input', { bubbles: true }));
    accessory.dispatchEvent(new Event('change', { bubbles: true }));
    expect(onlabels).toHaveBeenLastCalledWith({ identity: 'unknown', worn: 'headband' });
  });

  it('shows the live counters the server sends', () => {
    render(OperatorPanel, {
      props: { pair, labels: { identity: null, worn: null }, onlabels: () => {}, onlargest: () => {}, status: { id: 12, storeImages: false, framesLogged: 40, attackSuccess: { hits: 9, total: 10, value: 0.9, low: 0.6, high: 0.98 }, strip: { coverage: rate(1, 4), facesPerSecond: 2 } } },
    });
    const text = screen.getByTestId('session-counters').textContent!.replace(/\s+/g, ' ');
    expect(text).toContain('session 12: 40 frames logged · attack success 90% (9/10 triggered frames)');
  });
});

describe('StatusBar', () => {
  it('shows frames and verdicts per second, round trip and server stage times', () => {
    render(StatusBar, {
      props: {
        framesPerSecond: 29.6, verdictsPerSecond: 12.2, latencyMs: 48.4, backend: 'wasm',
        timings: { decodeMs: 2.2, queueMs: 3.4, trunkMs: 20.6, tailsMs: 1.1, totalMs: 28, batch: 2 },
        strip: { coverage: rate(3, 10), facesPerSecond: 2.46 },
      },
    });
    const text = screen.getByTestId('fps').textContent!.replace(/\s+/g, ' ');
    expect(text).toContain('30 frames/s');
    expect(text).toContain('12 verdicts/s');
    expect(text).toContain('round trip 48 ms');
    expect(text).toContain('decode 2 ms · queue 3 ms · trunk 21 ms · tails 1 ms · batch 2');
    expect(text).toContain('STRIP on 30% of faces (2.5 faces/s, all that spare compute allows)');
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
    timings: { decodeMs: 1, queueMs: 0, trunkMs: 1, tailsMs: 1, totalMs: 3, batch: 1 },
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
