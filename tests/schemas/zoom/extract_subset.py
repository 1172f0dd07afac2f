"""Regenerate ``meetings-subset.json`` from Zoom's published OpenAPI document (API v2.0.0).

    python tests/schemas/zoom/extract_subset.py path/to/openapi.yaml > tests/schemas/zoom/meetings-subset.json

Keeps the operations the Zoom emulator serves and the component schemas they reach, without
vendor extensions (``x-*``) or descriptions.
"""

from __future__ import annotations

import json
import sys

import yaml

OPERATIONS = {("/users/{userId}/meetings", "post"), ("/users/{userId}/meetings", "get"),
              ("/meetings/{meetingId}", "get")}


def strip(node):
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if not k.startswith("x-") and k not in ("description", "example", "examples")}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node, found: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.add(node["$ref"].rsplit("/", 1)[-1])
        for value in node.values():
            refs(value, found)
    elif isinstance(node, list):
        for value in node:
            refs(value, found)


def main(path: str) -> None:
    document = yaml.safe_load(open(path))
    components = document["components"]["schemas"]
    paths: dict[str, dict] = {}
    for (route, method) in sorted(OPERATIONS):
        operation = document["paths"][route][method]
        paths.setdefault(route, {})[method] = {"operationId": operation.get("operationId"),
                                               "responses": strip(operation["responses"])}
    needed: set[str] = set()
    refs(paths, needed)
    done: set[str] = set()
    while needed - done:
        name = sorted(needed - done)[0]
        done.add(name)
        refs(components[name], needed)
    out = {"openapi": document["openapi"], "info": {k: document["info"][k] for k in ("title", "version", "license")},
           "servers": document.get("servers"), "paths": paths,
           "components": {"schemas": {n: strip(components[n]) for n in sorted(done)}}}
    json.dump(out, sys.stdout, indent=1, default=str)  # YAML reads example timestamps as datetimes
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
