import { afterEach, describe, expect, it, vi } from 'vitest';
import * as api from '../../client/src/lib/api.ts';

afterEach(() => vi.unstubAllGlobals());

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

function stubFetch(reply: (url: string, init: RequestInit) => Response | Promise<Response>) {
  const fetch = vi.fn(async (url: string, init: RequestInit) => reply(url, init));
  vi.stubGlobal('fetch', fetch);
  return fetch;
}

describe('REST client', () => {
  it('sends JSON bodies and encodes names into the path', async () => {
    const fetch = stubFetch(() => json({ name: 'anna maria', consent: null, conditions: {} }));
    await api.recordConsent('lab/1', 'anna maria', { presenter: 'P', date: '2025-05-01', purpose: 'demo' });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/datasets/lab%2F1/identities/anna%20maria/consent');
    expect(init).toMatchObject({ method: 'PUT', headers: { 'Content-Type': 'application/json' } });
    expect(JSON.parse(init.body as string)).toEqual({ presenter: 'P', date: '2025-05-01', purpose: 'demo' });
  });

  it('throws the server’s own error message with its status', async () => {
    stubFetch(() => json({ error: 'pair "demo" is live: make another pair live first' }, 409));
    const failure = api.deletePair('demo');
    await expect(failure).rejects.toBeInstanceOf(api.ApiError);
    await expect(failure).rejects.toMatchObject({ status: 409, message: 'pair "demo" is live: make another pair live first' });
  });

  it('names the request when an error reply is not JSON, and says so when the server cannot be reached', async () => {
    stubFetch(() => new Response('<html>Bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    await expect(api.listJobs()).rejects.toMatchObject({ status: 502, message: 'GET /api/jobs: HTTP 502 Bad Gateway' });
    stubFetch(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(api.listModels()).rejects.toMatchObject({ status: 0, message: 'the server cannot be reached (Failed to fetch)' });
  });

  it('posts a photo as its raw bytes and takes a skipped photo (422) as an answer', async () => {
    const fetch = stubFetch(() => json({ kept: false, reason: 'no face found' }, 422));
    const photo = new Blob([new Uint8Array([0xff, 0xd8])], { type: 'image/jpeg' });
    await expect(api.uploadPhoto('lab', 'person-01', 'clean', photo)).resolves.toEqual({ kept: false, reason: 'no face found' });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/datasets/lab/photos?identity=person-01&condition=clean');
    expect(init).toMatchObject({ method: 'POST', headers: { 'Content-Type': 'image/jpeg' }, body: photo });
  });

  it('sends zips as application/zip whatever type the browser gave the file', async () => {
    const fetch = stubFetch(() => json({ kept: 3, skipped: [] }));
    await api.uploadArchive('lab', new Blob(['PK'], { type: 'application/x-zip-compressed' }));
    const [, init] = fetch.mock.calls[0];
    expect(init.headers).toEqual({ 'Content-Type': 'application/zip' });
    expect((init.body as Blob).type).toBe('application/zip');
  });

  it('unwraps list replies and builds download links', async () => {
    stubFetch((url) => json(url === '/api/triggers' ? { triggers: ['sunglasses', 'bandana'] } : { bundles: ['a-clean', 'a-backdoor'] }));
    await expect(api.listTriggers()).resolves.toEqual(['sunglasses', 'bandana']);
    await expect(api.identityBundles('lab', 'person-01')).resolves.toEqual(['a-clean', 'a-backdoor']);
    expect(api.datasetExportUrl('lab')).toBe('/api/datasets/lab/export.zip');
    expect(api.pairDownloadUrl('demo')).toBe('/api/models/demo/download');
  });
});
