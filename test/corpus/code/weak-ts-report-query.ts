import { Pool } from 'pg';

export interface SalesRow {
  region: string;
  product: string;
  total: number;
}

const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 5 });

/** Sales per product for one region, newest quarter first. */
export async function salesByRegion(region: string, orderBy = 'total'): Promise<SalesRow[]> {
  const sql = `SELECT region, product, SUM(amount) AS total FROM sales WHERE region = '${region}' GROUP BY region, product ORDER BY ${orderBy} DESC`;
  const result = await pool.query<SalesRow>(sql);
  return result.rows;
}

/** Distinct regions, for the drop-down. */
export async function regions(): Promise<string[]> {
  const result = await pool.query<{ region: string }>('SELECT DISTINCT region FROM sales ORDER BY region');
  return result.rows.map((r) => r.region);
}

export async function close(): Promise<void> {
  await pool.end();
}
