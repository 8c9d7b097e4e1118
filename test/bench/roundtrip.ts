// The floor under every request: one query's round trip through the pool.
import type pg from 'pg';
import { measure, type Figure } from './lib.js';

export async function benchRoundTrip(pool: pg.Pool): Promise<Figure[]> {
  return [
    await measure('SELECT 1 through the pool', 'query', 2000, () => pool.query('SELECT 1')),
    await measure('parameterized SELECT through the pool', 'query', 2000, (i) => pool.query('SELECT $1::int + 1 AS n', [i])),
  ];
}
