import { expect } from 'chai';
import { AppError } from '../../server/errors.js';
import { ident, literal, qualified } from '../../server/db/ident.js';

describe('identifier quoting', () => {
  it('quotes valid names', () => {
    expect(String(ident('orders'))).to.equal('"orders"');
    expect(String(qualified('data', 'Weird "Name"'))).to.equal('"data"."Weird ""Name"""');
  });

  for (const bad of ['', 'Orders', '1abc', 'a-b', 'a b', 'x"; DROP TABLE t; --', 'é', 'a'.repeat(64), 'a\0b']) {
    it(`rejects ${JSON.stringify(bad.slice(0, 20))} with a 400 naming the field`, () => {
      try {
        ident(bad, 'column');
        expect.fail('accepted');
      } catch (err) {
        expect(err).to.be.instanceOf(AppError);
        expect((err as AppError).status).to.equal(400);
        expect((err as AppError).field).to.equal('column');
      }
    });
  }

  it('makes DDL literals that survive quotes and backslashes', () => {
    expect(literal("it's")).to.equal("'it''s'");
    expect(literal('a\\b')).to.equal("E'a\\\\b'");
    expect(() => literal('a\0')).to.throw(AppError);
  });
});
