import { ValidationError } from '@app/contracts';
import { MAX_EXPORT_PAGE_ROWS } from './event-export.store';
import { parseExportPageMessage } from './query.port';

describe(parseExportPageMessage.name, () => {
  const filter = { categories: [], eventTypes: [], severities: [], metadata: [] };
  const ok = { tenantId: 'default', filter, format: 'csv', includeMetadata: true, after: null, limit: MAX_EXPORT_PAGE_ROWS };

  it('should take a page larger than a range read allows, up to the export page limit', () => {
    expect(parseExportPageMessage(ok)).toEqual(ok);
  });

  it.each([
    ['format', { ...ok, format: 'xlsx' }],
    ['includeMetadata', { ...ok, includeMetadata: 'yes' }],
    ['limit', { ...ok, limit: MAX_EXPORT_PAGE_ROWS + 1 }],
    ['limit', { ...ok, limit: 0 }],
    ['after', { ...ok, after: { timestamp: 1 } }],
    ['filter', { ...ok, filter: {} }],
  ])('should refuse a message with a bad %s, naming it', (field, message) => {
    let error: unknown;
    try {
      parseExportPageMessage(message);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).details).toEqual([expect.objectContaining({ field })]);
  });
});
