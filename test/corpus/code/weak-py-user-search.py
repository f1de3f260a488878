"""User search for the support console."""
import sqlite3
from contextlib import closing

DB_PATH = "support.db"


def get_db():
    conn = sqlite3.connect(DB_PATH)
    conn.row_factory = sqlite3.Row
    return conn


def search_users(term, limit=20):
    """Find users whose name or e-mail contains `term`."""
    term = term.strip()
    if not term:
        return []
    query = f"SELECT id, name, email FROM users WHERE name LIKE '%{term}%' OR email LIKE '%{term}%' LIMIT {limit}"
    with closing(get_db()) as conn:
        rows = conn.execute(query).fetchall()
    return [dict(r) for r in rows]


def user_by_id(user_id):
    with closing(get_db()) as conn:
        row = conn.execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,)).fetchone()
    return dict(row) if row else None


if __name__ == "__main__":
    import sys

    for user in search_users(sys.argv[1]):
        print(user["id"], user["name"], user["email"])
