"""What one TestScript run knows: fixtures, variables, the calls made so far, the mailbox."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.fhir.fhirpath import FhirPathError, evaluate
from harness.model.exchange import Exchange
from harness.runner.actions import ActionError
from harness.sut.config import SutConfig
from harness.testscript.fixtures import (
    FixtureError,
    FixtureMap,
    Payload,
    load_file,
    plain_json,
    resolve,
)
from harness.testscript.operators import text_of
from harness.testscript.paths import PathError, is_xpath, json_path, xpath
from harness.testscript.profiles import ProfileSource
from harness.testscript.script import Script
from harness.transport.base import Transport
from harness.transport.peer import PeerServers

_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class Unsupported(Exception):
    """The script asks for something kcert's TestScript support cannot do (yet): an error
    verdict "unsupported: …" naming the action."""


class SutFailure(ActionError):
    """The SUT answered but broke the contract or the standard (an agent operation refused or
    missing, nothing sent after it accepted): a failed step with a finding, never an error
    (the action turns it into the runner's `SutFault`)."""


@dataclass
class Call:
    """One operation: what was asked and what came back (from the SUT or kcert's mailbox)."""

    method: str
    url: str
    request: Payload | None
    request_headers: dict[str, str]
    status: int | None
    response: Payload | None
    response_headers: dict[str, str]
    exchange: Exchange | None = None
    notes: list[str] = field(default_factory=list)
    # recorded with the operation around `exchange`: what kcert did to bring it about (the
    # test agent request that makes the SUT send) and anything further that arrived
    preceding: list[Exchange] = field(default_factory=list)
    following: list[Exchange] = field(default_factory=list)
    # what kcert's own checks of the exchange found wrong (an attachment that arrived other
    # than asked for): each a failed finding of the operation
    problems: list[str] = field(default_factory=list)

    def exchanges(self) -> list[Exchange]:
        main = [self.exchange] if self.exchange is not None else []
        return [*self.preceding, *main, *self.following]


def header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


@dataclass
class ScriptState:
    """Per script run; fixtures are read when first used, variables when substituted."""

    script: Script
    transport: Transport
    sut: SutConfig
    fixture_map: FixtureMap
    profiles: ProfileSource
    fixtures: dict[str, Payload] = field(default_factory=dict)
    requests: dict[str, Call] = field(default_factory=dict)
    responses: dict[str, Call] = field(default_factory=dict)
    last: Call | None = None
    last_delivery: Call | None = None
    # every CareCommunication of this script the SUT received or sent, oldest first: what a
    # reply or forward can refer to when the script names no message
    thread: list[Payload] = field(default_factory=list)
    mailbox: dict[tuple[str, str], Payload] = field(default_factory=dict)
    block: dict[str, Any] = field(default_factory=dict)  # the setup/test/teardown running
    # fresh ids (what kcert places without one, what it asks the SUT to send): the runner's
    # seeded renderer, so a replay asks for the very same
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))
    _resolving: set[str] = field(default_factory=set)
    # kcert's peers the SUT sends to (SUT-initiated operations): the session's, never global
    peer_servers: PeerServers = field(default_factory=PeerServers)

    # -- fixtures ------------------------------------------------------------------------------

    def payload(self, source_id: str) -> Payload:
        """A fixture, an operation's response (responseId) or its request (requestId)."""
        if source_id in self.responses:
            found = self.responses[source_id].response
            if found is None:
                raise ActionError(f"response {source_id!r} has no body")
            return found
        if source_id in self.requests:
            sent = self.requests[source_id].request
            if sent is None:
                raise ActionError(f"request {source_id!r} had no body")
            return sent
        if source_id not in self.fixtures:
            self.fixtures[source_id] = self._load_fixture(source_id)
        return self.fixtures[source_id]

    def _load_fixture(self, fixture_id: str) -> Payload:
        for fixture in self.script.data.get("fixture", []):
            if fixture.get("id") != fixture_id:
                continue
            reference = (fixture.get("resource") or {}).get("reference")
            if not isinstance(reference, str) or not reference:
                raise ActionError(f"fixture {fixture_id!r} has no resource.reference")
            if reference.startswith("#"):
                return self._contained(fixture_id, reference[1:])
            try:
                path = resolve(reference, self.script.path, self.script.root, self.fixture_map)
                return load_file(path)
            except FixtureError as exc:
                raise ActionError(f"fixture {fixture_id!r}: {exc}") from None
        raise ActionError(f"no fixture, responseId or requestId named {fixture_id!r}")

    def _contained(self, fixture_id: str, local_id: str) -> Payload:
        for resource in self.script.data.get("contained", []):
            if isinstance(resource, dict) and resource.get("id") == local_id:
                return Payload(resource, json.dumps(resource).encode(), "json", fixture_id)
        raise ActionError(f"fixture {fixture_id!r}: no contained resource #{local_id}")

    # -- variables -----------------------------------------------------------------------------

    def builtins(self) -> dict[str, str]:
        """kcert's own variables: the SUT's endpoint bases, `${kcert-fhir-base}` and so on."""
        return {f"kcert-{name}-base": url for name, url in self.sut.endpoints.items()}

    def substitute(self, text: str) -> str:
        return _VARIABLE.sub(lambda m: self.variable(m.group(1)), text)

    def variable(self, name: str) -> str:
        definition = next(
            (v for v in self.script.data.get("variable", []) if v.get("name") == name), None
        )
        if definition is None:
            if name in self.builtins():
                return self.builtins()[name]
            raise ActionError(f"variable ${{{name}}} is not defined in the TestScript")
        if name in self._resolving:
            raise ActionError(f"variable ${{{name}}} refers to itself")
        self._resolving.add(name)
        try:
            value = self._evaluate(definition)
        finally:
            self._resolving.discard(name)
        if value == "" and isinstance(definition.get("defaultValue"), str):
            return str(definition["defaultValue"])
        return value

    def _evaluate(self, definition: dict[str, Any]) -> str:
        name = definition.get("name")
        default = definition.get("defaultValue")
        source_id = definition.get("sourceId")
        try:
            if isinstance(definition.get("headerField"), str):
                headers = self._headers_of(source_id)
                return header(headers, definition["headerField"]) or ""
            if isinstance(definition.get("expression"), str):
                payload = self.payload(source_id) if source_id else self._last_response()
                expression = self.substitute(definition["expression"])
                return text_of(self.fhirpath(payload, expression))
            if isinstance(definition.get("path"), str):
                payload = self.payload(source_id) if source_id else self._last_response()
                return text_of(self.path(payload, self.substitute(definition["path"])))
        except ActionError as exc:
            if isinstance(default, str):
                return default
            raise ActionError(f"variable ${{{name}}}: {exc}") from None
        if isinstance(default, str):
            return default
        raise ActionError(f"variable ${{{name}}} has no expression, headerField, path or default")

    def _headers_of(self, source_id: Any) -> dict[str, str]:
        if isinstance(source_id, str) and source_id in self.requests:
            return self.requests[source_id].request_headers
        if isinstance(source_id, str) and source_id in self.responses:
            return self.responses[source_id].response_headers
        if self.last is None:
            raise ActionError("no operation has been performed yet")
        return self.last.response_headers

    def _last_response(self) -> Payload:
        if self.last is None or self.last.response is None:
            raise ActionError("no response to read yet")
        return self.last.response

    # -- evaluation ----------------------------------------------------------------------------

    @staticmethod
    def fhirpath(payload: Payload, expression: str) -> list[Any]:
        if payload.resource is None:
            raise ActionError(f"{payload.name or 'the body'} is not a FHIR resource")
        try:
            return evaluate(payload.resource, expression, {"resource": payload.resource})
        except FhirPathError as exc:
            raise ActionError(str(exc)) from None

    @staticmethod
    def path(payload: Payload, path: str) -> list[Any]:
        try:
            if is_xpath(path):
                return xpath(payload.body("xml"), path)
            data = payload.resource if payload.resource is not None else plain_json(payload.raw)
            return json_path(data, path)
        except (PathError, FixtureError) as exc:
            raise ActionError(str(exc)) from None
