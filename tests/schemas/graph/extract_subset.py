"""Regenerate ``v1.0-subset.json`` from Microsoft Graph's published CSDL metadata.

    python tests/schemas/graph/extract_subset.py path/to/v1.0-Prod.csdl > tests/schemas/graph/v1.0-subset.json

The CSDL (github.com/microsoftgraph/msgraph-metadata, ``schemas/v1.0-Prod.csdl``) is what Graph's
OpenAPI documents (``openapi/v1.0/openapi.yaml`` in the same repository) are generated from; the
conversion below is the same mapping for the parts we need: structural properties only (a
navigation property is never in a response unless ``$expand``ed), the base type's properties
inherited, ``Nullable`` → ``null`` allowed, enum types → string enums.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET

NS = {"edm": "http://docs.oasis-open.org/odata/ns/edm"}
# The types the Graph emulator serves, and everything they contain.
ROOTS = ("user", "mailboxSettings", "calendar", "event", "scheduleInformation")
EDM = {
    "Edm.String": {"type": "string"}, "Edm.Boolean": {"type": "boolean"}, "Edm.Int32": {"type": "integer"},
    "Edm.Int64": {"type": "integer"}, "Edm.Int16": {"type": "integer"}, "Edm.Byte": {"type": "integer"},
    "Edm.Double": {"type": "number"}, "Edm.Single": {"type": "number"}, "Edm.Decimal": {"type": "number"},
    "Edm.DateTimeOffset": {"type": "string", "format": "date-time"}, "Edm.Date": {"type": "string", "format": "date"},
    "Edm.TimeOfDay": {"type": "string", "format": "time"}, "Edm.Duration": {"type": "string", "format": "duration"},
    "Edm.Guid": {"type": "string", "format": "uuid"}, "Edm.Binary": {"type": "string", "format": "base64url"},
    "Edm.Stream": {"type": "string"},
}


def main(path: str) -> None:
    root = ET.parse(path).getroot()
    schema = next(s for s in root.iter(f"{{{NS['edm']}}}Schema") if s.get("Namespace") == "microsoft.graph")
    types = {t.get("Name"): t for t in schema if t.tag.split("}")[1] in ("EntityType", "ComplexType", "EnumType")}
    out: dict[str, dict] = {}

    def ref(type_name: str) -> dict:
        collection = type_name.startswith("Collection(")
        inner = type_name[11:-1] if collection else type_name
        if inner in EDM:
            item = dict(EDM[inner])
        else:
            local = inner.split(".", 1)[1]
            convert(local)
            item = {"$ref": f"#/definitions/microsoft.graph.{local}"}
        return {"type": "array", "items": item} if collection else item

    def properties_of(element) -> tuple[dict, bool]:
        props: dict[str, dict] = {}
        base = element.get("BaseType")
        open_type = element.get("OpenType") == "true"
        if base:
            base_props, base_open = properties_of(types[base.split(".", 1)[1]])
            props.update(base_props)
            open_type = open_type or base_open
        for prop in element.findall("edm:Property", NS):
            schema_ = ref(prop.get("Type"))
            if prop.get("Nullable", "true") != "false":
                schema_ = {"anyOf": [schema_, {"type": "null"}]}
            props[prop.get("Name")] = schema_
        return props, open_type

    def convert(name: str) -> None:
        key = f"microsoft.graph.{name}"
        if key in out:
            return
        element = types[name]
        out[key] = {}  # placeholder against cycles
        kind = element.tag.split("}")[1]
        if kind == "EnumType":
            out[key] = {"type": "string", "enum": [m.get("Name") for m in element.findall("edm:Member", NS)]}
            return
        props, _open = properties_of(element)
        # Derived complex types (e.g. customTimeZone of timeZoneBase) may stand in for their base.
        out[key] = {"type": "object", "properties": props}
        derived = [n for n, t in types.items() if (t.get("BaseType") or "").split(".", 1)[-1] == name
                   and t.tag.endswith("ComplexType")]
        for child in derived:
            convert(child)
        if derived:
            out[key]["x-derived"] = [f"microsoft.graph.{c}" for c in derived]

    for name in ROOTS:
        convert(name)
    json.dump({"source": "https://github.com/microsoftgraph/msgraph-metadata/blob/master/schemas/v1.0-Prod.csdl",
               "definitions": dict(sorted(out.items()))}, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
