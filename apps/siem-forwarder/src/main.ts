import 'reflect-metadata';
import { runCapabilities } from '@app/runtime';
import { SIEM_CAPABILITY } from '@app/siem';

/**
 * Forwards audit events to SIEM receivers (syslog: CEF, LEEF, RFC 5424/3164, JSON over UDP, TCP or TLS), one
 * consumer group per integration, and answers the API gateway's integration requests over TCP.
 */
runCapabilities('siem-forwarder', [SIEM_CAPABILITY]);
