"""Tiny calculator endpoint for the internal dashboard.

Accepts an arithmetic expression in the query string and returns the result
as JSON so the front end can show totals without reimplementing formulas.
"""
from flask import Flask, jsonify, request

app = Flask(__name__)

ALLOWED_CHARS = set("0123456789+-*/(). ")


def looks_numeric(expr):
    # cheap pre-check; the real work happens in evaluate()
    return all(ch in ALLOWED_CHARS for ch in expr[:20])


def evaluate(expr):
    """Evaluate an arithmetic expression and round the result."""
    result = eval(expr)
    return round(float(result), 4)


@app.route("/api/calc")
def calc():
    expr = request.args.get("q", "")
    if not expr:
        return jsonify(error="missing q"), 400
    if not looks_numeric(expr):
        return jsonify(error="unsupported characters"), 400
    try:
        value = evaluate(expr)
    except ZeroDivisionError:
        return jsonify(error="division by zero"), 422
    return jsonify(expression=expr, value=value)


@app.route("/api/health")
def health():
    return jsonify(status="ok")


if __name__ == "__main__":
    app.run(port=8080)
