/**
 * ClickHouse error codes that say the inserted data is wrong: the same rows fail the same way however often
 * they are retried, so they are refused (sent to the DLQ) instead. Everything else, and every error without a
 * ClickHouse code (connection refused or reset, socket timeouts, a closed chdb session), is transient: the
 * store may take the same rows later (TOO_MANY_PARTS 252, MEMORY_LIMIT_EXCEEDED 241, TIMEOUT_EXCEEDED 159,
 * NOT_ENOUGH_SPACE 243, SERVER_OVERLOADED 745, TABLE_IS_READ_ONLY 242, ...). A data error missing here wedges
 * the projection as before; a transient error wrongly listed here would send good rows to the DLQ, so the list
 * holds only codes raised while parsing or converting a row's values. Names checked with errorCodeToName on
 * ClickHouse 26.7 (chdb 3.4).
 */
const DATA_ERROR_CODES: ReadonlyMap<number, string> = new Map([
  [6, 'CANNOT_PARSE_TEXT'],
  [25, 'CANNOT_PARSE_ESCAPE_SEQUENCE'],
  [26, 'CANNOT_PARSE_QUOTED_STRING'],
  [27, 'CANNOT_PARSE_INPUT_ASSERTION_FAILED'],
  [38, 'CANNOT_PARSE_DATE'],
  [41, 'CANNOT_PARSE_DATETIME'],
  [53, 'TYPE_MISMATCH'],
  [69, 'ARGUMENT_OUT_OF_BOUND'],
  [70, 'CANNOT_CONVERT_TYPE'],
  [72, 'CANNOT_PARSE_NUMBER'],
  [117, 'INCORRECT_DATA'],
  [128, 'TOO_LARGE_ARRAY_SIZE'],
  [131, 'TOO_LARGE_STRING_SIZE'],
  [190, 'SIZES_OF_ARRAYS_DONT_MATCH'],
  [321, 'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE'],
  [349, 'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN'],
  [376, 'CANNOT_PARSE_UUID'],
  [377, 'ILLEGAL_SYNTAX_FOR_DATA_TYPE'],
  [395, 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO'],
  [407, 'DECIMAL_OVERFLOW'],
  [441, 'CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING'],
  [467, 'CANNOT_PARSE_BOOL'],
  [563, 'CANNOT_READ_MAP_FROM_TEXT'],
  [632, 'UNEXPECTED_DATA_AFTER_PARSED_VALUE'],
  [675, 'CANNOT_PARSE_IPV4'],
  [676, 'CANNOT_PARSE_IPV6'],
  [691, 'UNKNOWN_ELEMENT_OF_ENUM'],
]);

/**
 * The ClickHouse error code an error carries, in any of the shapes that reach the store's callers:
 * @clickhouse/client's ClickHouseError (`code: '25'`, `type`: the name), over HTTP and through chdb's
 * connection alike; chdb's own errors from its raw insert (`clickhouseCode: 25`, `code: 'CHDB_INSERT'`), with
 * the same on `cause`; and failing those, the `Code: 25.` that both put at the start of the message.
 */
export function clickHouseErrorCode(error: unknown): number | undefined {
  for (let e = error, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const { clickhouseCode, code, message } = e as { clickhouseCode?: unknown; code?: unknown; message?: unknown };
    if (typeof clickhouseCode === 'number') return clickhouseCode;
    if (typeof code === 'string' && /^\d+$/.test(code)) return Number(code);
    const m = typeof message === 'string' ? /^Code: (\d+)\./.exec(message) : null;
    if (m) return Number(m[1]);
  }
  return undefined;
}

/** Permanent: the rows themselves are refused and would be on every retry. Transient: retry them later. */
export type StoreFailureKind = 'permanent' | 'transient';

export function classifyStoreError(error: unknown): StoreFailureKind {
  const code = clickHouseErrorCode(error);
  return code !== undefined && DATA_ERROR_CODES.has(code) ? 'permanent' : 'transient';
}

/** The name of a data error's code (`CANNOT_PARSE_ESCAPE_SEQUENCE`), for the DLQ record and the logs. */
export function dataErrorName(error: unknown): string | undefined {
  const code = clickHouseErrorCode(error);
  return code === undefined ? undefined : DATA_ERROR_CODES.get(code);
}

/** A row the store refused, with the store's reason. */
export interface StoreRefusal {
  /** The row's index in the lines handed to StoreWriter.write. */
  index: number;
  /** The store's error message (the whole message, ClickHouse's code and position in the data included). */
  reason: string;
  /** ClickHouse's name of the error, when known. */
  code: string;
}
