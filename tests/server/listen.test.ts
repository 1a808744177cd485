import { describe, expect, it } from 'vitest';
import { checkSettings, SETTINGS } from '../../server/config.ts';
import { isLoopback, listenConfig } from '../../server/http/listen.ts';

describe('where the server listens', () => {
  it('binds 127.0.0.1:3000 over plain HTTP by default', () => {
    expect(listenConfig({})).toEqual({ host: SETTINGS.HOST.default, port: Number(SETTINGS.PORT.default) });
    expect(listenConfig({ HOST: 'localhost', PORT: '0' })).toEqual({ host: 'localhost', port: 0 });
  });

  it('knows loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '192.168.1.20', '::', 'example.org', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });

  it('refuses plain HTTP on any other address, saying why', () => {
    expect(() => listenConfig({ HOST: '0.0.0.0' })).toThrow(/refusing to serve plain HTTP on HOST=0\.0\.0\.0: browsers only give camera access to pages on localhost or HTTPS/);
  });

  it('serves HTTPS when given a certificate and key, on any address', () => {
    expect(listenConfig({ HOST: '0.0.0.0', PORT: '8443', TLS_CERT: '/etc/cert.pem', TLS_KEY: '/etc/key.pem' })).toEqual({
      host: '0.0.0.0',
      port: 8443,
      tls: { certFile: '/etc/cert.pem', keyFile: '/etc/key.pem' },
    });
    expect(() => listenConfig({ TLS_CERT: '/etc/cert.pem' })).toThrow('set both TLS_CERT and TLS_KEY');
  });

  it('names every bad setting at once, before the server starts', () => {
    expect(() => checkSettings({ PORT: 'http', INFER_WORKERS: '0', REDIS_URL: 'localhost' })).toThrow(
      /bad settings:\n  PORT=http: must be a whole number\n  INFER_WORKERS=0: must be from 1 to 64\n  REDIS_URL=localhost: must be a URL/,
    );
    expect(() => checkSettings({})).not.toThrow();
  });

  it('names a bad port', () => {
    expect(() => listenConfig({ PORT: 'http' })).toThrow('PORT=http: must be a whole number');
    expect(() => listenConfig({ PORT: '70000' })).toThrow('PORT=70000: must be from 0 to 65535');
  });
});
