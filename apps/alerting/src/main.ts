import 'reflect-metadata';
import { ALERTING_CAPABILITY } from '@app/alerting';
import { runCapabilities } from '@app/runtime';

/**
 * Evaluates alert rules on its own consumer group of audit.events.v1, keeps rules, state, firings and the
 * delivery log in Postgres, sends signed webhooks and e-mail, and answers the API gateway's alert requests over
 * TCP. Its own audit events go to the ingest-gateway.
 */
runCapabilities('alerting', [ALERTING_CAPABILITY]);
