// Direct SQL for tests: what a DBA in psql would see, to check what the daemon did.
import pg from 'pg';

export class Sql {
  private constructor(private readonly client: pg.Client) {}

  static async connect(url: string): Promise<Sql> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return new Sql(client);
  }

  async rows<T = any>(text: string, values: unknown[] = []): Promise<T[]> {
    return (await this.client.query(text, values)).rows as T[];
  }

  async one<T = any>(text: string, values: unknown[] = []): Promise<T> {
    const rows = await this.rows<T>(text, values);
    if (rows.length !== 1) throw new Error(`expected one row, got ${rows.length}: ${text}`);
    return rows[0]!;
  }

  async exec(text: string, values: unknown[] = []): Promise<void> {
    await this.client.query(text, values);
  }

  /** the raw client, for LISTEN and transactions */
  get raw(): pg.Client {
    return this.client;
  }

  end(): Promise<void> {
    return this.client.end();
  }

  /**
   * Everything a schema change may touch, as comparable text: relations, columns,
   * constraints, indexes and comments in the data and trash schemas, and every metadata
   * row. Two equal snapshots mean nothing changed.
   */
  async snapshot(): Promise<Record<string, unknown>> {
    const schemas = ['data', 'data_trash'];
    return {
      relations: await this.rows(
        `SELECT n.nspname, c.relname, c.relkind, obj_description(c.oid, 'pg_class') AS comment
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ANY($1) ORDER BY 1, 2`,
        [schemas],
      ),
      columns: await this.rows(
        `SELECT n.nspname, c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
                pg_get_expr(d.adbin, d.adrelid) AS dflt, col_description(c.oid, a.attnum) AS comment
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
          WHERE n.nspname = ANY($1) AND c.relkind = 'r' AND a.attnum > 0 ORDER BY 1, 2, 3`,
        [schemas],
      ),
      constraints: await this.rows(
        `SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint
          WHERE connamespace IN (SELECT oid FROM pg_namespace WHERE nspname = ANY($1)) ORDER BY 1`,
        [schemas],
      ),
      indexes: await this.rows(`SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname = ANY($1) ORDER BY 1, 2`, [schemas]),
      tables: await this.rows(`SELECT * FROM tablewright.tables ORDER BY id`),
      fields: await this.rows(`SELECT * FROM tablewright.fields ORDER BY id`),
      audit: await this.rows(`SELECT id, operation, table_id, field_id, version FROM tablewright.audit ORDER BY id`),
      schemaState: await this.rows(`SELECT * FROM tablewright.schema_state`),
    };
  }
}
