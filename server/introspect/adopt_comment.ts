// Adoption reads our own column comments back: a column this daemon once made says its
// field type and options (server/schema/comments.ts), so a schema-only restore of the data
// schema is adopted with its types, select labels and decimals, not as a read-only integer.
// The comment is only a hint: it is used when the type it names makes exactly the column
// the catalog has, and its options pass the field type's own validation.
import { canonicalType, type TypeMapping } from './types.js';
import { allFieldTypes, fieldType, parseOptions } from '../fields/registry.js';
import type { FieldTypeName } from '../fields/types.js';
import { parseColumnComment } from '../schema/comments.js';
import type { CatalogColumn } from './snapshot.js';

export function mappingFromComment(col: CatalogColumn, fromCatalog: TypeMapping): TypeMapping {
  const meta = parseColumnComment(col.comment)?.meta;
  if (!meta?.type || col.generated || col.identity) return fromCatalog;
  // A link is whatever its foreign key points at now (ids in a comment are the old ones).
  if (meta.type === 'link' || fromCatalog.type === 'link') return fromCatalog;
  if (!allFieldTypes().some((t) => t.name === meta.type)) return fromCatalog;
  const type = fieldType(meta.type as FieldTypeName);
  try {
    const options = parseOptions(type, meta.options ?? {});
    if (canonicalType(type.sqlType(options)) !== col.type) return fromCatalog;
    return { type: type.name, options: options as Record<string, unknown>, read_only: false, pg_type: null };
  } catch {
    return fromCatalog;
  }
}
