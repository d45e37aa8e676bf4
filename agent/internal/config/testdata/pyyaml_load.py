#!/usr/bin/python3
"""Oracle for the YAML differential test: loads each document with PyYAML.

Reads a JSON list of base64-encoded documents on stdin and writes one JSON
line per document: {"ok": true, "data": ...} or {"ok": false, "error": "..."}.
Types JSON cannot tell apart are marked: {"$float": "inf"|"-inf"|"nan"},
{"$timestamp": iso}, {"$binary": base64}; a key that is not a string is
written as "$key:" + repr(key).
"""
import base64
import datetime
import json
import math
import sys

import yaml


def enc(v):
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return {"$float": "nan"}
        if math.isinf(v):
            return {"$float": "inf" if v > 0 else "-inf"}
        return v
    if isinstance(v, (datetime.date, datetime.datetime)):
        return {"$timestamp": v.isoformat()}
    if isinstance(v, bytes):
        return {"$binary": base64.b64encode(v).decode()}
    if isinstance(v, list):
        return [enc(x) for x in v]
    if isinstance(v, dict):
        return {(k if isinstance(k, str) else "$key:" + repr(k)): enc(x) for k, x in v.items()}
    return {"$other": repr(v)}


def main():
    out = []
    for b in json.load(sys.stdin):
        try:
            data = yaml.load(base64.b64decode(b), Loader=yaml.SafeLoader)
            out.append(json.dumps({"ok": True, "data": enc(data)}))
        except Exception as e:  # YAMLError, and TypeError for unhashable keys
            out.append(json.dumps({"ok": False, "error": type(e).__name__ + ": " + str(e).replace("\n", " ")}))
    sys.stdout.write("\n".join(out) + "\n")


main()
