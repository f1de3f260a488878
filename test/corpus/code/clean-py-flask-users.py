"""Users API for the booking service."""
import sqlite3

from flask import Flask, g, jsonify, request

app = Flask(__name__)
DATABASE = "bookings.db"
MAX_NAME = 80


def db():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(_exc):
    conn = g.pop("db", None)
    if conn is not None:
        conn.close()


def validate_user(payload):
    name = payload.get("name")
    email = payload.get("email")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME:
        return "name must be 1-80 characters"
    if not isinstance(email, str) or "@" not in email:
        return "email is invalid"
    return None


@app.route("/users", methods=["POST"])
def create_user():
    payload = request.get_json(silent=True) or {}
    problem = validate_user(payload)
    if problem:
        return jsonify(error=problem), 400
    cur = db().execute("INSERT INTO users (name, email) VALUES (?, ?)", (payload["name"], payload["email"]))
    db().commit()
    return jsonify(id=cur.lastrowid), 201


@app.route("/users/<int:user_id>")
def get_user(user_id):
    row = db().execute("SELECT id, name, email FROM users WHERE id = ?", (user_id,)).fetchone()
    if row is None:
        return jsonify(error="not found"), 404
    return jsonify(dict(row))
