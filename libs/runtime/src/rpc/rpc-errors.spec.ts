import { Logger } from '@nestjs/common';
import { TimeoutError } from 'rxjs';
import { AuditError, ErrorCode, UnavailableError, ValidationError } from '@app/contracts';
import { fromRpcError, isRpcErrorPayload, toRpcErrorPayload } from './rpc-errors';

const quiet = { error: jest.fn(), warn: jest.fn() } as unknown as Logger;
/** What the TCP transport does to a payload: JSON and back. */
const overTheWire = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('RPC error mapping', () => {
  it('should rebuild an AuditError with its status, code, details and headers on the caller side', () => {
    const sent = new UnavailableError('the event log (Kafka) did not acknowledge the write', 7);
    const got = fromRpcError(overTheWire(toRpcErrorPayload(sent, 'ingest-gateway', quiet)), 'ingest-gateway', 1000);
    expect(got).toBeInstanceOf(AuditError);
    expect(got).toMatchObject({ status: 503, code: ErrorCode.Unavailable, message: sent.message, headers: { 'retry-after': '7' } });
  });

  it('should keep validation details field by field', () => {
    const sent = new ValidationError('bad', [{ field: '/metadata/x', message: 'must be a string' }]);
    const got = fromRpcError(overTheWire(toRpcErrorPayload(sent, 'query-store', quiet)), 'query-store', 1000) as AuditError;
    expect(got.status).toBe(400);
    expect(got.details).toEqual([{ field: '/metadata/x', message: 'must be a string' }]);
  });

  it('should hide the internals of an unexpected error behind a 500', () => {
    const payload = toRpcErrorPayload(new Error('password=hunter2 in a stack'), 'query-store', quiet);
    expect(payload.audit_error).toMatchObject({ status: 500, code: ErrorCode.Internal });
    expect(JSON.stringify(payload)).not.toContain('hunter2');
  });

  it('should answer a store the service cannot reach as 503, not as an internal error', () => {
    const lost = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(toRpcErrorPayload(lost, 'ingest-gateway', quiet).audit_error).toMatchObject({ status: 503, headers: { 'retry-after': '5' } });
    expect(toRpcErrorPayload(new Error('Connection terminated unexpectedly'), 'ingest-gateway', quiet).audit_error.status).toBe(503);
  });

  it.each([
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4001'), { code: 'ECONNREFUSED' })],
    ['a reset connection', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['a connection closed mid-request', new Error('Connection closed')],
    ['a timeout', new TimeoutError()],
    ['a pattern the service does not know', 'There is no matching message handler defined in the remote service.'],
  ])('should turn %s into a 503 with Retry-After', (_what, error) => {
    const got = fromRpcError(error, 'ingest-gateway', 5000);
    expect(got).toBeInstanceOf(UnavailableError);
    expect(Number((got as AuditError).headers['retry-after'])).toBeGreaterThanOrEqual(1);
  });

  it('should not take an arbitrary object for an AuditError payload', () => {
    expect(isRpcErrorPayload({ audit_error: { code: 'made_up', message: 'x', status: 400 } })).toBe(false);
    expect(isRpcErrorPayload({ status: 'error', message: 'Internal server error' })).toBe(false);
  });
});
