import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../server/config.js';

describe('config', () => {
  it('uses the documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.port).to.equal(3000);
    expect(c.host).to.equal('127.0.0.1');
    expect(c.databaseUrl).to.equal(undefined);
    expect(c.dataDir).to.match(/\.data$/);
    expect(c.dataSchema).to.equal('data');
    expect(c.lockTimeoutMs).to.equal(3000);
    expect(c.maxFields).to.equal(500);
  });

  it('names every bad variable in one message', () => {
    expect(() => loadConfig({ PORT: 'eighty', DATA_SCHEMA: 'Bad Name', LOCK_TIMEOUT_MS: '-1' }))
      .to.throw(ConfigError)
      .with.property('message')
      .that.includes('PORT')
      .and.includes('DATA_SCHEMA')
      .and.includes('LOCK_TIMEOUT_MS');
  });

  it('refuses a DATABASE_URL that is not a postgres URL', () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://x' })).to.throw(ConfigError, /DATABASE_URL/);
  });

  it('defaults LISTEN_DATABASE_URL to DATABASE_URL', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://a@b/c' });
    expect(c.listenDatabaseUrl).to.equal('postgres://a@b/c');
    expect(loadConfig({ DATABASE_URL: 'postgres://a@b/c', LISTEN_DATABASE_URL: 'postgres://d@e/f' }).listenDatabaseUrl).to.equal('postgres://d@e/f');
  });
});
