"""The OpenAPI description and the registered routes never part ways, and the description is well formed."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from sqlalchemy import create_engine

from examples.ecommerce.api import create_app
from examples.ecommerce.openapi import SPEC

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def app():
    # Routes and the description need no database: nothing here sends a query.
    return create_app(create_engine("sqlite://"))


def _routes(app) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        routes |= {(method, path) for method in rule.methods - IGNORED_METHODS}
    return routes


def _described() -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in SPEC["paths"].items() for method in item}


def test_every_route_is_described_and_every_description_is_a_route(app) -> None:
    routes, described = _routes(app), _described()
    assert routes - described == set(), "routes missing from the OpenAPI description"
    assert described - routes == set(), "described operations with no route"
    assert len(routes) >= 17


def test_the_description_is_served_as_json(app) -> None:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.get_data()) == json.loads(json.dumps(SPEC))


def test_path_parameters_are_declared() -> None:
    for path, item in SPEC["paths"].items():
        in_template = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == in_template, f"{method.upper()} {path}"


def test_schemas_are_valid_json_schema_and_every_ref_resolves() -> None:
    for schema in SPEC["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # OpenAPI 3.1 schemas are JSON Schema 2020-12
    refs = set(re.findall(r'"\$ref": "#/components/schemas/(\w+)"', json.dumps(SPEC)))
    assert refs == set(SPEC["components"]["schemas"])  # every reference resolves, and no schema is unused


def test_every_operation_documents_the_error_body() -> None:
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            default = operation["responses"]["default"]["content"]["application/json"]["schema"]
            assert default == {"$ref": "#/components/schemas/Error"}, f"{method.upper()} {path}"
            if operation["security"]:
                assert "401" in operation["responses"], f"{method.upper()} {path}"


def test_schemathesis_reads_every_operation(app) -> None:
    schema = schemathesis.openapi.from_dict(SPEC)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == _described()
