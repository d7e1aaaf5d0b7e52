import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { apiError } from '../api/errors.js';

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  certPath: string;
  keyPath: string;
  generated: boolean;
}

/**
 * The service's certificate: the configured files when given, else a self-signed one (P-256,
 * CN=localhost, SAN localhost and 127.0.0.1) created once under `dir` with openssl and reused.
 */
export function loadOrCreateTls(opts: { certPath?: string; keyPath?: string; dir: string }): TlsMaterial {
  if ((opts.certPath === undefined) !== (opts.keyPath === undefined)) {
    throw apiError('AEP_API_TLS', { reason: 'give both the certificate and the key, or neither' });
  }
  let certPath = opts.certPath;
  let keyPath = opts.keyPath;
  let generated = false;
  if (certPath === undefined || keyPath === undefined) {
    certPath = join(opts.dir, 'cert.pem');
    keyPath = join(opts.dir, 'key.pem');
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
      try {
        execFileSync(
          'openssl',
          [
            'req',
            '-x509',
            '-newkey',
            'ec',
            '-pkeyopt',
            'ec_paramgen_curve:prime256v1',
            '-nodes',
            '-days',
            '825',
            '-subj',
            '/CN=localhost',
            '-addext',
            'subjectAltName=DNS:localhost,IP:127.0.0.1',
            '-keyout',
            keyPath,
            '-out',
            certPath,
          ],
          { stdio: 'pipe' },
        );
      } catch (e) {
        throw apiError('AEP_API_TLS', {
          reason: `openssl could not create a certificate: ${(e as Error).message}`,
        });
      }
      generated = true;
    }
  }
  try {
    return { cert: readFileSync(certPath), key: readFileSync(keyPath), certPath, keyPath, generated };
  } catch (e) {
    throw apiError('AEP_API_TLS', {
      reason: `cannot read ${certPath} / ${keyPath}: ${(e as Error).message}`,
    });
  }
}
