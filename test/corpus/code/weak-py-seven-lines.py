import os, pickle, sqlite3
PASSWORD = "hunter2hunter2"
def handle(params, blob):
    result = eval(params["expr"])
    os.system("convert " + params["image"] + " out.png")
    state = pickle.loads(blob)
    rows = sqlite3.connect("app.db").execute("SELECT * FROM users WHERE name = '" + params["name"] + "'").fetchall()
