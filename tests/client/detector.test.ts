import type { Detection } from '@mediapipe/tasks-vision';
import { describe, expect, it } from 'vitest';
import { FrameClock, toDetectedFaces } from '../../client/src/lib/detector.ts';
import { MAX_FACES_PER_FRAME } from '../../shared/protocol.ts';

const size = { width: 640, height: 480 };

/** A MediaPipe detection: box in pixels, keypoints normalised, BlazeFace's order. */
function detection(x: number, side: number): Detection {
  const keypoint = (fx: number, fy: number) => ({ x: (x + fx * side) / size.width, y: (100 + fy * side) / size.height, score: 0, label: '' });
  return {
    boundingBox: { originX: x, originY: 100, width: side, height: side, angle: 0 },
    categories: [{ score: 0.9, index: 0, categoryName: '', displayName: '' }],
    keypoints: [keypoint(0.3, 0.4), keypoint(0.7, 0.4), keypoint(0.5, 0.6), keypoint(0.5, 0.8), keypoint(0, 0.45), keypoint(1, 0.45)],
  };
}

describe('MediaPipe detections to faces', () => {
  it('names the keypoints (image-left eye first), puts them in pixels and keeps the box', () => {
    const [face] = toDetectedFaces([detection(200, 100)], size);
    expect(face.box).toEqual({ x: 200, y: 100, width: 100, height: 100 });
    expect(face.score).toBeCloseTo(0.9);
    expect(face.keypoints.leftEye.x).toBeCloseTo(230);
    expect(face.keypoints.leftEye.y).toBeCloseTo(140);
    expect(face.keypoints.rightEye.x).toBeCloseTo(270);
    expect(face.keypoints.noseTip.y).toBeCloseTo(160);
    expect(face.keypoints.leftEar.x).toBeCloseTo(200);
    expect(face.keypoints.rightEar.x).toBeCloseTo(300);
  });

  it('keeps the largest faces first, at most the protocol allows', () => {
    const many = Array.from({ length: MAX_FACES_PER_FRAME + 3 }, (_, i) => detection(i * 10, 20 + i));
    const faces = toDetectedFaces(many, size);
    expect(faces).toHaveLength(MAX_FACES_PER_FRAME);
    expect(faces.map((f) => f.box.width)).toEqual(Array.from({ length: MAX_FACES_PER_FRAME }, (_, i) => 20 + MAX_FACES_PER_FRAME + 2 - i));
  });

  it('skips detections without a box or all six keypoints', () => {
    const noKeypoints = { ...detection(0, 50), keypoints: [] };
    const noBox = { ...detection(0, 50), boundingBox: undefined };
    expect(toDetectedFaces([noKeypoints, noBox], size)).toEqual([]);
  });
});

describe('frame clock', () => {
  it('runs detection only when the media time changed, with strictly increasing timestamps', () => {
    const clock = new FrameClock();
    expect(clock.next(0.0, 1000.4)).toBe(1000);
    expect(clock.next(0.0, 1016)).toBeUndefined();
    expect(clock.next(0.033, 1016)).toBe(1016);
    // Same wall-clock millisecond, new frame: still later than the last timestamp.
    expect(clock.next(0.066, 1016.2)).toBe(1017);
    // A looping video jumps back in media time: a new frame all the same.
    expect(clock.next(0.0, 1050)).toBe(1050);
  });

  it('counts the first frame of a new source as new and keeps timestamps increasing across sources', () => {
    const clock = new FrameClock();
    expect(clock.next(0, 5000)).toBe(5000);
    clock.restart();
    expect(clock.next(0, 10)).toBe(5001);
  });
});
