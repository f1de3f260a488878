"""Download endpoint for generated invoices."""
import os

from flask import Flask, abort, request, send_file

app = Flask(__name__)
INVOICE_DIR = "/var/lib/billing/invoices"


def invoice_path(filename):
    return os.path.join(INVOICE_DIR, filename)


@app.route("/invoices/download")
def download():
    filename = request.args.get("file")
    if not filename:
        abort(400)
    path = invoice_path(filename)
    if not os.path.exists(path):
        abort(404)
    return send_file(path, as_attachment=True)


@app.route("/invoices")
def listing():
    names = sorted(os.listdir(INVOICE_DIR))
    return {"invoices": names}
