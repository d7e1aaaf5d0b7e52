import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadOrCreateTls } from './tls.js';

describe('loadOrCreateTls', () => {
  it('creates a self-signed localhost certificate once, then reuses it', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'aepred-tls-unit-')), 'tls');
    const first = loadOrCreateTls({ dir });
    expect(first.generated).toBe(true);
    const cert = new X509Certificate(first.cert);
    expect(cert.subject).toContain('CN=localhost');
    expect(cert.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(cert.checkPrivateKey(createPrivateKey(first.key))).toBe(true);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const again = loadOrCreateTls({ dir });
    expect(again.generated).toBe(false);
    expect(again.cert.equals(first.cert)).toBe(true);
  });

  it('refuses a certificate without its key, and unreadable files, with AEP_API_TLS', () => {
    expect(() => loadOrCreateTls({ dir: tmpdir(), certPath: '/x.pem' })).toThrow(
      /both the certificate and the key/,
    );
    expect(() => loadOrCreateTls({ dir: tmpdir(), certPath: '/nope/c.pem', keyPath: '/nope/k.pem' })).toThrow(
      expect.objectContaining({ code: 'AEP_API_TLS' }),
    );
  });
});
