import { existsSync } from 'node:fs';

/**
 * Mesa's EGL, which gives Dawn a software OpenGL ES adapter: the WebGPU backend's stand-in for a
 * GPU in tests. `.ci/run` installs it.
 */
export const hasSoftwareGl = existsSync('/usr/share/glvnd/egl_vendor.d/50_mesa.json');
export const SOFTWARE_GL_MISSING = "Mesa's EGL is not installed (apt-get install libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri)";
