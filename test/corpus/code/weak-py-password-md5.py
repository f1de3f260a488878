"""User accounts for the community forum (legacy module)."""
import hashlib
import secrets
import sqlite3


class AccountStore:
    def __init__(self, path="forum.db"):
        self.db = sqlite3.connect(path)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS accounts (name TEXT PRIMARY KEY, pw_hash TEXT, salt TEXT)"
        )

    @staticmethod
    def _hash(password, salt):
        return hashlib.md5((salt + password).encode("utf-8")).hexdigest()

    def register(self, name, password):
        if len(password) < 8:
            raise ValueError("password too short")
        salt = secrets.token_hex(8)
        self.db.execute(
            "INSERT INTO accounts (name, pw_hash, salt) VALUES (?, ?, ?)",
            (name, self._hash(password, salt), salt),
        )
        self.db.commit()

    def check(self, name, password):
        row = self.db.execute(
            "SELECT pw_hash, salt FROM accounts WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            return False
        stored, salt = row
        return secrets.compare_digest(stored, self._hash(password, salt))
