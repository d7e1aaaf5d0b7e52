/**
 * Telling people and the audit trail what the loop does: a structured log line always, an audit row
 * when an audit log is given (Part 11 trail: who = `system:retraining`), and a Slack-style incoming
 * webhook POST ({text}) when a URL is configured (AEPRED_RETRAIN_WEBHOOK_URL). A failed webhook is
 * logged, never fatal: notification must not stop a retraining.
 */
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/log.js';

export type LoopAction =
  | 'retrain.started'
  | 'retrain.completed'
  | 'retrain.rejected'
  | 'retrain.failed'
  | 'canary.started'
  | 'canary.promoted'
  | 'canary.rolled_back'
  | 'model.rolled_back';

export interface LoopNotice {
  readonly action: LoopAction;
  /** The incident (or manual request) id the loop is answering. */
  readonly incident: string;
  readonly text: string;
  readonly modelVersion?: string;
  readonly payload?: Record<string, unknown>;
}

export interface Notifier {
  notify(n: LoopNotice): Promise<void>;
}

export class LoopNotifier implements Notifier {
  readonly #log: Logger;
  readonly #audit: AuditLog | undefined;
  readonly #webhook: string | undefined;
  readonly #fetch: typeof fetch;
  /** Every notice, in order (the demo prints them; tests read them). */
  readonly sent: LoopNotice[] = [];

  constructor(o: { logger: Logger; audit?: AuditLog; webhookUrl?: string; fetch?: typeof fetch }) {
    this.#log = o.logger.child({ component: 'retraining' });
    this.#audit = o.audit;
    this.#webhook = o.webhookUrl;
    this.#fetch = o.fetch ?? fetch;
  }

  async notify(n: LoopNotice): Promise<void> {
    this.sent.push(n);
    this.#log.info(
      { action: n.action, incident: n.incident, model_version: n.modelVersion, ...n.payload },
      n.text,
    );
    if (this.#audit)
      await this.#audit.append({
        actor: 'system:retraining',
        action: n.action,
        subject: n.incident,
        ...(n.modelVersion === undefined ? {} : { modelVersion: n.modelVersion }),
        correlationId: n.incident,
        payload: n.payload ?? {},
      });
    if (this.#webhook) {
      try {
        const res = await this.#fetch(this.#webhook, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: `[aepred] ${n.action}: ${n.text}` }),
        });
        if (!res.ok) this.#log.warn({ status: res.status }, 'retraining webhook refused the notice');
      } catch (e) {
        this.#log.warn({ err: (e as Error).message }, 'retraining webhook unreachable');
      }
    }
  }
}
