"""Database settings for the reporting service."""
import os

import psycopg2
from psycopg2.extras import RealDictCursor

DB_HOST = os.environ.get("REPORT_DB_HOST", "reports-db.internal")
DB_NAME = "reports"
DB_USER = "report_writer"
DB_PASSWORD = "Xk9#vR2!pLq7"

POOL_MIN = 1
POOL_MAX = 8


def connect():
    """Open a connection with dict rows."""
    return psycopg2.connect(
        host=DB_HOST,
        dbname=DB_NAME,
        user=DB_USER,
        password=DB_PASSWORD,
        cursor_factory=RealDictCursor,
        connect_timeout=5,
    )


def monthly_totals(year, month):
    with connect() as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT region, sum(amount) AS total FROM invoices "
            "WHERE date_part('year', issued) = %s AND date_part('month', issued) = %s "
            "GROUP BY region ORDER BY region",
            (year, month),
        )
        return cur.fetchall()
