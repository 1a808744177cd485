import { existsSync, readdirSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

/** A WebGPU device for tfjs, from Dawn (Chrome's WebGPU engine) through the `webgpu` package. */
export interface WebGpuDevice {
  device: GPUDevice;
  adapterInfo: GPUAdapterInfo;
  /** A CPU rasteriser posing as a GPU (Mesa's llvmpipe, lavapipe, SwiftShader). */
  software: boolean;
  /** The adapter as `/api/health` reports it. */
  description: string;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader/i;

/**
 * Where the Vulkan loader looks for drivers on Linux. Dawn asked for an adapter without one prints
 * loader warnings in every process, so a machine without any is not asked.
 */
function hasVulkanDriver(): boolean {
  if (process.platform !== 'linux') return true;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  const dirs = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
  return dirs.some((dir) => existsSync(dir) && readdirSync(dir).some((file) => file.endsWith('.json')));
}

async function loadDawn(): Promise<typeof import('webgpu') | undefined> {
  try {
    // An optional dependency: `npm install --omit=optional` leaves it out on CPU-only servers.
    const dawn = await import('webgpu');
    Object.assign(globalThis, dawn.globals);
    return dawn;
  } catch {
    return undefined;
  }
}

/**
 * Mesa's EGL finds no display on a headless server unless told to go without one. It reads the
 * process environment, which only the main thread can change (a worker's process.env is a copy):
 * the inference pool calls this before it starts WebGPU workers.
 */
export function useHeadlessGl(): void {
  if (isMainThread) process.env.EGL_PLATFORM ??= 'surfaceless';
}

/** tfjs's WebGPU backend looks for `navigator.gpu`, which Node lacks (20) or leaves empty (21+). */
function exposeGpu(gpu: GPU): void {
  const scope = globalThis as { navigator?: object };
  if (scope.navigator) Object.defineProperty(scope.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(scope, 'navigator', { value: { gpu }, configurable: true, writable: true });
}

function isSoftware(info: GPUAdapterInfo): boolean {
  return Boolean((info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter) || SOFTWARE_ADAPTER.test(`${info.device} ${info.description}`);
}

/**
 * The adapter to compute on: a real GPU (Vulkan on Linux, Metal, Direct3D) in high-performance
 * mode; with `allowSoftware`, failing that, Mesa's software OpenGL ES (EGL without a display) in
 * WebGPU's compatibility mode. Undefined when there is none.
 */
export async function requestWebGpu({ allowSoftware }: { allowSoftware: boolean }): Promise<WebGpuDevice | undefined> {
  const attempts: { flags: string[]; options: GPURequestAdapterOptions & { featureLevel?: string } }[] = [];
  if (hasVulkanDriver()) attempts.push({ flags: [], options: { powerPreference: 'high-performance' } });
  if (allowSoftware) {
    useHeadlessGl();
    attempts.push({ flags: ['backend=opengles'], options: { powerPreference: 'high-performance', featureLevel: 'compatibility' } });
  }
  // Dawn's binary is loaded only where there is something to ask it for.
  const dawn = attempts.length > 0 ? await loadDawn() : undefined;
  if (!dawn) return undefined;
  for (const { flags, options } of attempts) {
    const gpu = dawn.create(flags);
    const adapter = await gpu.requestAdapter(options);
    if (!adapter) continue;
    const software = isSoftware(adapter.info);
    if (software && !allowSoftware) continue;
    const limits = adapter.limits;
    // The same limits tfjs's own factory asks for: the adapter's most, not WebGPU's defaults.
    const device = await adapter.requestDevice({
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    void device.lost.then((lost) => {
      if (lost.reason !== 'destroyed') console.error(`WebGPU device lost (${lost.reason}): ${lost.message}`);
    });
    exposeGpu(gpu);
    const info = adapter.info;
    const names = [info.vendor, info.device, info.description].filter((part) => part.trim() !== '');
    return { device, adapterInfo: info, software, description: `${names.join(', ')}${software ? ' (software)' : ''}` };
  }
  return undefined;
}
