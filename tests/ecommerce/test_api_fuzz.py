"""Property-based fuzzing of the running API (in process, through WSGI) from its own OpenAPI description.

Schemathesis generates requests for every operation (valid and invalid bodies, parameters and headers) against a
fresh database with sample data, logged in with a real token, and checks each answer: never a 5xx, status,
content type, headers and body as described, and no stack trace in any body. The example count per operation is
small enough for the whole run to stay well under a minute; the number of requests sent is printed at the end.

Positive cases carry a valid token, so on secured operations they reach the handlers (their only 401s are wrong
passwords at login); negative cases also drop or mangle the Authorization header, which must give a described
401. The first run found that SQLite's naive timestamps went out without a zone (not RFC 3339 date-time).

The stock stream is left out: it is an endless event stream (there is nothing to validate in a body that never
ends), and test_api.py covers it.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from examples.ecommerce import database, sample_data
from examples.ecommerce.api import create_app
from examples.ecommerce.clock import FakeClock
from examples.ecommerce.openapi import SPEC
from tests.ecommerce import shop
from tests.servers import scratch_database

# Small enough for every CI run; raise it (IK_FUZZ_EXAMPLES=500) for a longer hunt.
MAX_EXAMPLES = int(os.environ.get("IK_FUZZ_EXAMPLES", "25"))
FUZZ_USER = 1
SENT: dict[int, int] = {}  # requests sent per response status, for the closing line


def no_stack_trace(ctx, response, case) -> None:
    """A failure is reported to the client as the error body, never as the server's insides."""
    text = response.text or ""
    for marker in ("Traceback", 'File "', "sqlalchemy.", "psycopg"):
        assert marker not in text, f"{marker!r} in the response body: {text[:300]}"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_app(tmp_path_factory, request):
    with scratch_database(request.param, tmp_path_factory.mktemp("fuzz")) as url:
        engine = database.make_engine(url)
        database.create_schema(engine)
        sample_data.load(engine, 300)
        app = create_app(engine, clock=FakeClock(), password_hasher=shop.FAST_HASHER)
        SENT.clear()
        yield app
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            statuses = ", ".join(f"{status}: {count}" for status, count in sorted(SENT.items()))
            reporter.write_line(f"\nschemathesis sent {sum(SENT.values())} requests on {request.param} ({statuses})")
        engine.dispose()


@pytest.fixture(scope="module")
def api_schema(fuzzed_app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", fuzzed_app)


# One test per operation, named after it. (schemathesis.pytest.from_fixture would do this, but its lazy loader
# reads a node attribute pytest 9 no longer has, so each test drives Hypothesis itself.)
OPERATIONS = [f"{method.upper()} {path}" for path, item in SPEC["paths"].items() for method in item
              if path != "/api/stock/stream"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]


@pytest.mark.parametrize("label", OPERATIONS)
def test_api_answers_every_generated_request_as_described(label: str, api_schema, fuzzed_app) -> None:
    operation = api_schema.find_operation_by_label(label)
    accounts = fuzzed_app.extensions["ecommerce"]["accounts"]
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @given(case=cases)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:
        # A fresh token for every request: generated logout and password-change calls end the earlier ones.
        token = accounts.issue_token(FUZZ_USER)
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS,
                                          additional_checks=[no_stack_trace])
        SENT[response.status_code] = SENT.get(response.status_code, 0) + 1
        assert response.headers.get("x-content-type-options") == ["nosniff"], response.headers

    fuzz()
