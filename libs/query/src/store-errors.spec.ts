import { ClickHouseError } from '@clickhouse/client';
import { classifyStoreError, clickHouseErrorCode, dataErrorName } from './store-errors';

/** Shaped like chdb 3.4's ChdbInsertError from its raw insert (seen: a lone surrogate escape in a JSON line). */
const chdbInsertError = (code: number, name: string): Error =>
  Object.assign(
    new Error(
      `Code: ${code}. DB::Exception: something about the data: (at row 1)\n: While executing ParallelParsingBlockInputFormat. (${name})`,
    ),
    {
      code: 'CHDB_INSERT',
      clickhouseCode: code,
      cause: Object.assign(new Error('inner'), { code: 'CHDB_QUERY', clickhouseCode: code }),
    },
  );

describe('store-errors', () => {
  it("should read the code from chdb errors, from the client's ClickHouseError (HTTP and chdb queries), and from a message", () => {
    expect(clickHouseErrorCode(chdbInsertError(25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'))).toBe(25);
    expect(
      clickHouseErrorCode(new ClickHouseError({ message: 'Cannot parse input', code: '27', type: 'CANNOT_PARSE_INPUT_ASSERTION_FAILED' })),
    ).toBe(27);
    expect(
      clickHouseErrorCode(Object.assign(new Error('wrapped'), { cause: new Error('Code: 376. DB::Exception: Cannot parse uuid') })),
    ).toBe(376);
    expect(clickHouseErrorCode(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8123'), { code: 'ECONNREFUSED' }))).toBeUndefined();
  });

  it('should call data errors permanent and everything else transient', () => {
    expect(classifyStoreError(chdbInsertError(25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'))).toBe('permanent');
    expect(classifyStoreError(chdbInsertError(41, 'CANNOT_PARSE_DATETIME'))).toBe('permanent');
    expect(classifyStoreError(new ClickHouseError({ message: 'Type mismatch', code: '53', type: 'TYPE_MISMATCH' }))).toBe('permanent');
    expect(dataErrorName(chdbInsertError(376, 'CANNOT_PARSE_UUID'))).toBe('CANNOT_PARSE_UUID');
    for (const transient of [
      new ClickHouseError({ message: 'Too many parts', code: '252', type: 'TOO_MANY_PARTS' }),
      new ClickHouseError({ message: 'Memory limit exceeded', code: '241', type: 'MEMORY_LIMIT_EXCEEDED' }),
      new ClickHouseError({ message: 'Timeout exceeded', code: '159', type: 'TIMEOUT_EXCEEDED' }),
      chdbInsertError(243, 'NOT_ENOUGH_SPACE'),
      Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
      new Error('Timeout error.'),
      Object.assign(new Error('session closed'), { code: 'CHDB_CLOSED' }),
      'a string',
      undefined,
    ]) {
      expect([transient, classifyStoreError(transient)]).toEqual([transient, 'transient']);
    }
  });
});
