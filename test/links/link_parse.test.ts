// A single link and a many-to-many link read a row id the same ways: a number, digits, the
// "#12" the grid shows for a row without a label, an {id} object; the single link said
// "must be the id of a row" to "#12" while the many-to-many one took it. Proves, over
// generated ids (edge cases: 1, 2^53 + 1, 18 digits), that both give the same id text, and
// that digits naming no row (0, 19 digits) are refused by both.
import { expect } from 'chai';
import fc from 'fast-check';
import { linkType } from '../../server/fields/link.js';
import { parseLinkList } from '../../server/fields/link_list.js';
import { FieldValueError } from '../../server/fields/types.js';

const single = (v: unknown) => linkType.parse(v, { table_id: 1 });

describe('link ids: one link and a many-to-many link read them alike', () => {
  it('digits, "#digits", numbers and {id}: the same id text from both (property)', () => {
    const ids = fc.oneof(fc.constantFrom('1', '9007199254740993', '999999999999999999'), fc.bigInt({ min: 1n, max: 999_999_999_999_999_999n }).map(String));
    fc.assert(
      fc.property(ids, fc.constantFrom('plain', 'hash', 'object', 'padded'), (id, form) => {
        const v = form === 'plain' ? id : form === 'hash' ? `#${id}` : form === 'object' ? { id } : `  ${id} `;
        expect(single(v)).to.equal(id);
        expect(parseLinkList([v]).ids).to.deep.equal([id]);
      }),
    );
    expect(single(42)).to.equal('42');
  });

  it('digits that are no row id are refused by both; other text is no id for a single link (a many-to-many one reads it as a label)', () => {
    for (const bad of ['0', '#0', '1234567890123456789', '#1234567890123456789']) {
      expect(() => single(bad), bad).to.throw(FieldValueError);
      expect(() => parseLinkList([bad]), bad).to.throw(FieldValueError);
    }
    for (const text of ['-1', '#', '# 1', '1.0', 'Acme']) {
      expect(() => single(text), text).to.throw(FieldValueError);
      expect(parseLinkList([text]).labels, text).to.deep.equal([text]);
    }
  });
});
