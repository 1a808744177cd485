/**
 * What a GPU server computes on, whether it computes right, and how fast the live loop runs there:
 * 1. the WebGPU adapter Dawn finds (a real GPU only, as the server's automatic choice takes it);
 * 2. the backend the server would pick (or TFJS_BACKEND), and the teacher's descriptor of face-api's
 *    sample faces on it against face-api's own on the reference cpu backend;
 * 3. the `live` bench on that backend (its options pass through).
 *
 *   npm run bench -- gpu-check [live options, e.g. --clients 1,4 --seconds 10 --no-training]
 */
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { PROJECT_ROOT } from '../server/config.ts';
import { initBackend } from '../server/ml/backend.ts';
import { loadTeacher, teacherHead, trunk } from '../server/ml/teacher.ts';
import { requestWebGpu } from '../server/ml/webgpu.ts';
import { faceApiDescriptors, sampleChips } from '../tests/ml/faceApiReference.ts';

/** Float32 sums in another order stay far below this; a wrong kernel does not. */
const DESCRIPTOR_TOLERANCE = 1e-4;

const gpu = await requestWebGpu({ allowSoftware: false });
console.log(gpu ? `WebGPU adapter: ${gpu.description}` : 'WebGPU adapter: none that is a GPU (a Vulkan driver is needed on Linux; see "GPU server" in the README)');
gpu?.device.destroy();

const backend = await initBackend();
console.log(`backend: ${backend.name} on ${backend.device}${backend.gpu ? '' : ' (not a GPU)'}`);

const chips = await sampleChips();
const input = tf.tensor4d(new Uint8Array(Buffer.concat(chips)), [chips.length, 150, 150, 3], 'int32');
const teacher = await loadTeacher();
const ours = (await teacherHead(teacher, trunk(teacher, input)).array()) as number[][];
const theirs = await faceApiDescriptors(chips);
const worst = Math.max(...theirs.flatMap((descriptor, i) => Array.from(descriptor, (v, j) => Math.abs(v - ours[i][j]))));
console.log(`teacher descriptor of ${chips.length} sample faces vs face-api's own on the cpu backend: max difference ${worst.toExponential(1)} (${worst < DESCRIPTOR_TOLERANCE ? 'ok' : `WRONG: above ${DESCRIPTOR_TOLERANCE}`})`);
if (!(worst < DESCRIPTOR_TOLERANCE)) process.exit(1);

console.log('\nthe live bench on this backend:');
const live = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', 'live', ...process.argv.slice(3)], {
  cwd: PROJECT_ROOT,
  stdio: 'inherit',
  env: { ...process.env, TFJS_BACKEND: backend.name },
});
process.exit(live.status ?? 1);
