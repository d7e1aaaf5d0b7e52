import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AepredError } from '../shared/errors.js';
import { REPO_ROOT } from '../shared/paths.js';
import {
  API_ERRORS,
  type ApiErrorCode,
  apiError,
  errorBody,
  foreignHttpStatus,
  httpStatusOf,
} from './errors.js';

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/** Every code thrown in the tree: literal `new AepredError('CODE'` plus the API catalogue. */
function codesInTree(): { codes: Set<string>; nonLiteral: string[] } {
  const codes = new Set<string>(Object.keys(API_ERRORS));
  const nonLiteral: string[] = [];
  for (const f of sources(resolve(REPO_ROOT, 'src'))) {
    const text = readFileSync(f, 'utf8');
    for (const m of text.matchAll(/new AepredError\(\s*([^,)]+)/g)) {
      const arg = (m[1] ?? '').trim();
      const lit = /^'([A-Z0-9_]+)'$/.exec(arg);
      if (lit?.[1] !== undefined) codes.add(lit[1]);
      else if (!f.endsWith(join('api', 'errors.ts'))) nonLiteral.push(`${f}: ${arg}`);
    }
  }
  return { codes, nonLiteral };
}

interface DocRow {
  http: string;
  exit: string;
}

function documented(): Map<string, DocRow> {
  const text = readFileSync(resolve(REPO_ROOT, 'docs/errors.md'), 'utf8');
  const rows = new Map<string, DocRow>();
  for (const m of text.matchAll(/^\| `([A-Z0-9_]+)` \| ([^|]+) \| ([^|]+) \|/gm)) {
    const code = m[1] ?? '';
    expect(rows.has(code), `${code} documented twice`).toBe(false);
    rows.set(code, { http: (m[2] ?? '').trim(), exit: (m[3] ?? '').trim() });
  }
  return rows;
}

describe('error catalogue ⇄ docs/errors.md', () => {
  const { codes, nonLiteral } = codesInTree();
  const doc = documented();

  it('finds the codes (the scan works)', () => {
    expect(codes.size).toBeGreaterThan(40);
    expect(codes.has('AEP_PARAMS_INVALID')).toBe(true);
    expect(doc.size).toBeGreaterThan(40);
  });

  it('every AepredError is constructed with a literal code, so the scan sees it', () => {
    expect(nonLiteral).toEqual([]);
  });

  it('every code in src/ is documented', () => {
    expect([...codes].filter((c) => !doc.has(c)).sort()).toEqual([]);
  });

  it('every documented code exists in src/ (none invented, none left after removal)', () => {
    expect([...doc.keys()].filter((c) => !codes.has(c)).sort()).toEqual([]);
  });

  it('the HTTP and exit columns equal what the service and CLI do', () => {
    for (const code of Object.keys(API_ERRORS) as ApiErrorCode[]) {
      const e = apiError(code);
      expect(doc.get(code)?.http, code).toBe(String(API_ERRORS[code].status));
      expect(doc.get(code)?.exit, code).toBe(String(e.exitCode));
    }
    for (const [code, row] of doc) {
      if (Object.hasOwn(API_ERRORS, code)) continue;
      const status = foreignHttpStatus(code);
      expect(row.http, code).toBe(status === undefined ? '—' : String(status));
    }
  });
});

describe('apiError', () => {
  it('fills the template, keeps status, field and retryability', () => {
    const e = apiError('AEP_API_INVALID_FIELD', { field: 'timestamp', reason: 'must be a date-time' });
    expect(e.message).toBe('timestamp: must be a date-time');
    expect(e.status).toBe(400);
    expect(e.field).toBe('timestamp');
    expect(e.exitCode).toBe(2);
    expect(errorBody(e, 'req-1')).toEqual({
      error: {
        code: 'AEP_API_INVALID_FIELD',
        message: 'timestamp: must be a date-time',
        field: 'timestamp',
        retryable: false,
      },
      request_id: 'req-1',
    });
    expect(apiError('AEP_API_NO_MODEL').retryable).toBe(true);
  });

  it('maps foreign product errors to a status', () => {
    expect(httpStatusOf(new AepredError('AEP_DB_UNAVAILABLE', 'x'))).toBe(503);
    expect(httpStatusOf(new AepredError('AEP_X', 'x', { kind: 'usage' }))).toBe(400);
    expect(httpStatusOf(new AepredError('AEP_X', 'x', { retryable: true }))).toBe(503);
    expect(httpStatusOf(new AepredError('AEP_X', 'x'))).toBe(500);
  });
});
