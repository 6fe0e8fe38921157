"""schemathesis over the edge's own ``/openapi.json``: no 5xx, every answer as the document declares it.

The document is read from the running edge (``security_stack``: the five services and
the edge as processes, over real PostgreSQL, Redis and SeaweedFS), so what is checked is
what clients are given. For every operation and each of a learner, an instructor and an
administrator (valid session tokens, each in an organization and course of its own),
schemathesis generates requests from the document's parameters and bodies, sends them,
and checks the answer: not a server error, a status code the operation declares, a
content type it declares, a body that matches the declared schema.

No route is left out. The LTI form posts (login, launch, dynamic registration) and
Zoom's webhook cannot succeed with generated values (they need a platform's signed
id_token bound to a login's state, or Zoom's signature), but their refusals are driven
and checked like every other answer; their accepted paths are tested in tests/lti/ and
tests/attendance/. Rate limits are off in the test stack, so no 429 hides an answer.

The examples are few and fixed (``derandomize``: no random seed), so a run is
the same every time and stays within a couple of minutes on two cores; a failure
prints the request to replay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service_kit.auth import ADMINISTRATOR, INSTRUCTOR, LEARNER
from tests.security.conftest import SecurityStack
from tests.support.callers import mint_caller

EXAMPLES_PER_OPERATION = 10
OPERATIONS_AT_LEAST = 55
"""Operations in the document when this was written: fewer means routes went missing from it."""
ROLES = {"learner": LEARNER, "instructor": INSTRUCTOR, "administrator": ADMINISTRATOR}
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

TEMPLATE_FIELD = re.compile(r"{([^}]+)}")


@dataclass(frozen=True)
class Finding:
    role: str
    operation: str
    failure: str

    def __str__(self) -> str:
        return f"{self.role} {self.operation}: {self.failure}"


@pytest.fixture(scope="module")
def document(security_stack: SecurityStack) -> schemathesis.BaseSchema:
    """The edge's own document, with dotted path parameter names spelled for schemathesis."""
    served = requests.get(f"{security_stack.edge_url}/openapi.json", timeout=30)
    assert served.status_code == 200
    return schemathesis.openapi.from_dict(without_dotted_path_names(served.json()))


def without_dotted_path_names(document: dict[str, Any]) -> dict[str, Any]:
    """``{video.video_id}`` as ``{video__video_id}``, in the path and its parameter: the same URLs.

    The edge names a path parameter by its proto field path, as grpc-gateway's OpenAPI
    generator does (``PATCH /api/v1/media/videos/{video.video_id}`` fills
    ``UpdateVideoRequest.video.video_id``), which OpenAPI allows; schemathesis 4.32 fills
    path templates with ``str.format`` and cannot build such an operation (KeyError
    'video'). Renaming changes no request it sends.
    """
    paths: dict[str, Any] = {}
    for path, item in document["paths"].items():
        names = TEMPLATE_FIELD.findall(path)
        for name in names:
            path = path.replace(f"{{{name}}}", f"{{{name.replace('.', '__')}}}")
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "path":
                    parameter["name"] = parameter["name"].replace(".", "__")
        paths[path] = item
    return {**document, "paths": paths}


def test_every_operation_answers_as_the_document_declares_for_every_role(
    security_stack: SecurityStack, document: schemathesis.BaseSchema
) -> None:
    findings: list[Finding] = []
    driven = 0
    with requests.Session() as session:
        for role, role_name in ROLES.items():
            caller = mint_caller(security_stack.jwt_secret, roles=(role_name,))
            headers = {"Authorization": f"Bearer {caller.token}"}
            for result in document.get_all_operations():
                if isinstance(result, Err):
                    error = result.err()
                    findings.append(Finding(role, f"{error.method} {error.path}", f"invalid in the document: {error}"))
                    continue
                operation = result.ok()
                driven += 1
                findings += drive(operation, role, headers, security_stack.edge_url, session)
    assert driven >= len(ROLES) * OPERATIONS_AT_LEAST, driven
    assert findings == [], "\n".join(str(finding) for finding in findings)


def drive(
    operation: schemathesis.APIOperation[Any, Any, Any, Any],
    role: str,
    headers: dict[str, str],
    base_url: str,
    session: requests.Session,
) -> list[Finding]:
    """Send this operation's generated requests as ``role``; every failed check, once per kind."""
    found: dict[str, Finding] = {}

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def send(case: schemathesis.Case[Any]) -> None:
        response = case.call(base_url=base_url, headers=headers, session=session, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as failure:
            parts = failure.exceptions if isinstance(failure, FailureGroup) else (failure,)
            for part in parts:
                key = f"{type(part).__name__}: {str(part).splitlines()[:1]}"
                replay = [line for line in str(failure).splitlines() if line.strip().startswith("curl ")]
                found.setdefault(key, Finding(role, operation.label, f"{part} [{response.status_code}] {replay[:1]}"))

    send()
    return list(found.values())


def test_a_picker_form_post_with_a_malformed_part_header_is_a_400_page_not_a_500(
    security_stack: SecurityStack,
) -> None:
    """Found by the run above: aiohttp's multipart reader raised InvalidHeader, which reached the edge's 500."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="\x10\xf3\x80\x9b\x95"\r\n\r\nx\r\n'
        b'--b\r\nContent-Disposition: form-data; name="pick"\r\n\r\nvideo:1\r\n--b--\r\n'
    )
    answer = requests.post(
        f"{security_stack.edge_url}/api/v1/lti/deep-linking/responses",
        data=body,
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=30,
    )
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "a part&#39;s headers are malformed" in answer.text or "a part's headers are malformed" in answer.text
