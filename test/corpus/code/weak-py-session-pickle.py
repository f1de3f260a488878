"""Cookie-backed sessions for the legacy admin panel."""
import base64
import pickle
import time

from flask import Flask, request, make_response, abort

app = Flask(__name__)
SESSION_COOKIE = "adm_session"
MAX_AGE = 3600


class Session:
    def __init__(self, user, roles):
        self.user = user
        self.roles = roles
        self.created = time.time()

    def expired(self):
        return time.time() - self.created > MAX_AGE


def load_session():
    raw = request.cookies.get(SESSION_COOKIE)
    if raw is None:
        return None
    data = base64.b64decode(raw)
    session = pickle.loads(data)
    if session.expired():
        return None
    return session


def save_session(response, session):
    blob = base64.b64encode(pickle.dumps(session)).decode("ascii")
    response.set_cookie(SESSION_COOKIE, blob, max_age=MAX_AGE, httponly=True)
    return response


@app.route("/admin")
def admin_home():
    session = load_session()
    if session is None or "admin" not in session.roles:
        abort(403)
    return f"Welcome back, {session.user}"


@app.route("/login", methods=["POST"])
def login():
    user = request.form.get("user", "guest")
    response = make_response("ok")
    return save_session(response, Session(user, ["viewer"]))
