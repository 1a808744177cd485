import net from 'node:net';
import { setting, SETTINGS } from '../config.ts';

export interface ListenConfig {
  host: string;
  port: number;
  /** PEM file paths; when given the server speaks HTTPS. */
  tls?: { certFile: string; keyFile: string };
}

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  return net.isIPv6(bare) && (bare === '::1' || /^::ffff:127\./i.test(bare));
}

/**
 * Where and how to listen, from HOST, PORT, TLS_CERT and TLS_KEY. Browsers give camera access
 * only to pages on localhost or HTTPS, so any other address requires a certificate.
 */
export function listenConfig(env: NodeJS.ProcessEnv): ListenConfig {
  const host = setting('HOST', env);
  const port = setting('PORT', env);
  const certFile = setting('TLS_CERT', env);
  const keyFile = setting('TLS_KEY', env);
  if (Boolean(certFile) !== Boolean(keyFile)) throw new Error('set both TLS_CERT and TLS_KEY (PEM certificate and private key files), or neither');
  if (certFile && keyFile) return { host, port, tls: { certFile, keyFile } };
  if (!isLoopback(host)) {
    throw new Error(
      `refusing to serve plain HTTP on HOST=${host}: browsers only give camera access to pages on localhost or HTTPS, ` +
        'so the live page would not work there. Set TLS_CERT and TLS_KEY to a PEM certificate and key to serve HTTPS on that address, ' +
        `or leave HOST unset to serve http://${SETTINGS.HOST.default} on this machine only.`,
    );
  }
  return { host, port };
}
