/**
 * One failure type for the whole product. The thrower decides whether the failure is a usage error
 * (exit 2), an operational failure (exit 1) and whether retrying could help. Codes are stable and
 * never reused; each is documented in docs/errors.md.
 */
export type ErrorKind = 'usage' | 'config' | 'operational';

export class AepredError extends Error {
  readonly code: string;
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  readonly detail: string | undefined;

  constructor(
    code: string,
    message: string,
    opts: { kind?: ErrorKind; retryable?: boolean; detail?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AepredError';
    this.code = code;
    this.kind = opts.kind ?? 'operational';
    this.retryable = opts.retryable ?? false;
    this.detail = opts.detail;
  }

  get exitCode(): number {
    return this.kind === 'usage' ? 2 : 1;
  }
}

export function isAepredError(e: unknown): e is AepredError {
  return e instanceof AepredError;
}
