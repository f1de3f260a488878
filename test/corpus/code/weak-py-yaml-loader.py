"""Load pipeline definitions uploaded by users."""
import yaml

from flask import Flask, jsonify, request

app = Flask(__name__)
REQUIRED_KEYS = {"name", "steps"}


def parse_pipeline(text):
    doc = yaml.load(text, Loader=yaml.Loader)
    if not isinstance(doc, dict):
        raise ValueError("pipeline must be a mapping")
    missing = REQUIRED_KEYS - doc.keys()
    if missing:
        raise ValueError(f"missing keys: {sorted(missing)}")
    return doc


@app.route("/pipelines", methods=["POST"])
def upload_pipeline():
    try:
        pipeline = parse_pipeline(request.get_data(as_text=True))
    except (ValueError, yaml.YAMLError) as exc:
        return jsonify(error=str(exc)), 400
    return jsonify(name=pipeline["name"], steps=len(pipeline["steps"])), 201
