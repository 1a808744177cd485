import { createRequire } from 'node:module';
import path from 'node:path';
import { PROJECT_ROOT } from '../server/config.ts';

/** Where the build puts what the live page needs, and where the server serves it from. */
const require = createRequire(import.meta.url);

export const CLIENT_DIR = path.join(PROJECT_ROOT, 'client');
export const CLIENT_DIST_DIR = path.join(CLIENT_DIR, 'dist');

/** MediaPipe's WebAssembly runtime, served straight from the installed package. */
export const TASKS_VISION_WASM_DIR = path.dirname(require.resolve('@mediapipe/tasks-vision/vision_wasm_internal.wasm'));

/** BlazeFace short-range as shipped on npm (no TFLite metadata, so tasks-vision refuses it). */
export const FACE_MODEL_SOURCE = require.resolve('@mediapipe/face_detection/face_detection_short_range.tflite');
export const FACE_MODEL_FILE = path.basename(FACE_MODEL_SOURCE);
/** The same model with metadata added by scripts/faceModel.ts (git-ignored build output). */
export const FACE_MODEL_DIR = path.join(CLIENT_DIR, 'public', 'mediapipe');
