import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';

export const CHROMIUM = '/usr/bin/chromium';
/** Debian's Chromium and ffmpeg (for the fake camera's clips); browser tests skip without them. */
export const browserToolsPresent = existsSync(CHROMIUM) && spawnSync('ffmpeg', ['-version']).status === 0;

export interface CameraPageOptions {
  serverUrl: string;
  /** The clip Chromium's fake camera plays, looping. */
  y4m: string;
  /** A folder for the browser profile. */
  profiles: string;
  /** Appended to the server's address, e.g. `#enroll`. */
  at?: string;
}

/**
 * Opens the page in a fresh Chromium profile whose camera plays the clip; the page must load
 * everything from our server and throw no error.
 */
export async function withCameraPage<T>({ serverUrl, y4m, profiles, at = '' }: CameraPageOptions, use: (page: Page) => Promise<T>): Promise<T> {
  const profile = await mkdtemp(path.join(profiles, 'profile-'));
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${y4m}`,
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const pageErrors: string[] = [];
    const elsewhere: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('request', (request) => {
      if (!request.url().startsWith(`${serverUrl}/`) && !/^(data|blob):/.test(request.url())) elsewhere.push(request.url());
    });
    await page.goto(`${serverUrl}/${at}`);
    const result = await use(page);
    expect(pageErrors).toEqual([]);
    expect(elsewhere, 'requests to other hosts (a CDN?)').toEqual([]);
    return result;
  } finally {
    await browser.close();
  }
}
