import { createHmac, randomBytes } from 'node:crypto';

/** A Standard Webhooks secret: `whsec_` and the base64 of 32 random bytes (the spec asks for 24 to 64). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The `webhook-signature` value of Standard Webhooks v1: `v1,` and the base64 HMAC-SHA256, keyed with the
 * secret's base64 part decoded, over `<webhook-id>.<webhook-timestamp>.<the exact body bytes sent>`.
 */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** Webhook secrets at rest: the shared SecretBox (libs/common), re-exported where alerting imported it. */
export { SecretBox } from '@app/common';
