"""TestScript asserts: each yields pass, fail (or warning) or error, with a message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.fhir.fhirpath import truthy
from harness.runner.actions import ActionError
from harness.testscript.context import Call, ScriptState, Unsupported, header
from harness.testscript.fixtures import Payload
from harness.testscript.operators import OPERATORS, UnknownOperator, compare, text_of
from harness.validators.api import ValidatorContext

RESPONSE_CODES = {
    "continue": 100,
    "switchingProtocols": 101,
    "okay": 200,
    "created": 201,
    "noContent": 204,
    "notModified": 304,
    "bad": 400,
    "forbidden": 403,
    "notFound": 404,
    "methodNotAllowed": 405,
    "conflict": 409,
    "gone": 410,
    "preconditionFailed": 412,
    "unprocessable": 422,
}
MAX_SHOWN = 5

# MedCom's scripts compare a count with a string literal (`payload.count() = '2'`). Strict
# FHIRPath makes Integer = String false; TouchStone's engine (HAPI) compares the two values
# as text, which is what the scripts' authors meant. kcert reads such a comparison as one
# of numbers, and says so in the assert's message.
_COUNT_VS_STRING = re.compile(r"count\(\)\s*(=|!=)\s*'(\d+)'")
COUNT_NOTE = "the script compares a count with a string; compared as numbers, as TouchStone does"


@dataclass(frozen=True)
class Verdict:
    result: str  # "pass", "fail", "warning", "error"
    message: str


def judge(state: ScriptState, spec: dict[str, Any]) -> Verdict:
    """Evaluate one assert; Unsupported and ActionError propagate to the caller."""
    ok, detail = _check(state, spec)
    if ok:
        return Verdict("pass", detail)
    return Verdict("warning" if spec.get("warningOnly") is True else "fail", detail)


def _operator(spec: dict[str, Any], default: str = "equals") -> str:
    operator = str(spec.get("operator") or default)
    if operator not in OPERATORS:
        raise Unsupported(f"assert operator {operator}")
    return operator


def _value(state: ScriptState, spec: dict[str, Any]) -> str:
    return state.substitute(str(spec.get("value", "")))


def _call(state: ScriptState) -> Call:
    if state.last is None:
        raise ActionError("the assert has no operation before it to look at")
    return state.last


def _source(state: ScriptState, spec: dict[str, Any]) -> Payload:
    source_id = spec.get("sourceId")
    if isinstance(source_id, str):
        return state.payload(source_id)
    call = _call(state)
    payload = call.request if spec.get("direction") == "request" else call.response
    if payload is None:
        raise ActionError(f"the last operation has no {spec.get('direction', 'response')} body")
    return payload


def _compared(operator: str, actual: list[Any], expected: str, what: str) -> tuple[bool, str]:
    try:
        ok = compare(operator, actual, expected)
    except UnknownOperator as exc:
        raise Unsupported(str(exc)) from None
    shown = text_of(actual) if actual else "(empty)"
    target = "" if operator in ("empty", "notEmpty") else f" {expected!r}"
    return ok, f"{what} is {shown!r}; expected {operator}{target}"


def _check(state: ScriptState, spec: dict[str, Any]) -> tuple[bool, str]:
    if isinstance(spec.get("compareToSourceId"), str):
        return _compare_to_source(state, spec)
    if isinstance(spec.get("validateProfileId"), str):
        return _validate_profile(state, spec)
    if isinstance(spec.get("minimumId"), str):
        return _minimum(state, spec)
    if "navigationLinks" in spec:
        return _navigation(state, spec)
    if isinstance(spec.get("response"), str):
        code = RESPONSE_CODES.get(spec["response"])
        if code is None:
            raise Unsupported(f"assert response {spec['response']}")
        status = _call(state).status
        return _compared(_operator(spec), [status], str(code), f"HTTP status ({spec['response']})")
    if "responseCode" in spec:
        status = _call(state).status
        expected = state.substitute(str(spec["responseCode"]))
        return _compared(_operator(spec), [status], expected, "HTTP status")
    if isinstance(spec.get("contentType"), str):
        return _content_type(state, spec)
    if isinstance(spec.get("resource"), str):
        rtype = (_source(state, spec).resource or {}).get("resourceType", "")
        actual = [rtype] if rtype else []
        return _compared(_operator(spec), actual, spec["resource"], "resource type")
    if isinstance(spec.get("headerField"), str):
        call = _call(state)
        headers = (
            call.request_headers if spec.get("direction") == "request" else (call.response_headers)
        )
        found = header(headers, spec["headerField"])
        actual = [found] if found is not None else []
        what = f"header {spec['headerField']}"
        return _compared(_operator(spec, _default_for(spec)), actual, _value(state, spec), what)
    if isinstance(spec.get("requestMethod"), str):
        actual = [_call(state).method.lower()]
        return _compared(_operator(spec), actual, spec["requestMethod"].lower(), "request method")
    if isinstance(spec.get("requestURL"), str):
        expected = state.substitute(spec["requestURL"])
        return _compared(_operator(spec, "contains"), [_call(state).url], expected, "request URL")
    if isinstance(spec.get("expression"), str):
        payload = _source(state, spec)
        expression = state.substitute(spec["expression"])
        counted, quoted = _COUNT_VS_STRING.subn(r"count() \1 \2", expression)
        result = state.fhirpath(payload, counted)
        operator = _operator(spec, _default_for(spec, "eval"))
        if operator == "eval":
            text = f"{expression} is {text_of(result) or '(empty)'}"
            if quoted:
                text += f" (read as {counted}: {COUNT_NOTE})"
            return truthy(result), text
        return _compared(operator, result, _value(state, spec), expression)
    if isinstance(spec.get("path"), str):
        path = state.substitute(spec["path"])
        result = state.path(_source(state, spec), path)
        return _compared(
            _operator(spec, _default_for(spec, "notEmpty")), result, _value(state, spec), path
        )
    meta = ("label", "description", "direction", "warningOnly", "stopTestOnFail", "sourceId")
    known = ", ".join(k for k in spec if k not in meta)
    raise Unsupported(f"assert with {known or 'nothing to check'}")


def _default_for(spec: dict[str, Any], without_value: str = "notEmpty") -> str:
    return "equals" if "value" in spec else without_value


def _content_type(state: ScriptState, spec: dict[str, Any]) -> tuple[bool, str]:
    call = _call(state)
    headers = call.request_headers if spec.get("direction") == "request" else call.response_headers
    found = header(headers, "content-type") or ""
    expected = spec["contentType"]
    operator = _operator(spec)
    if operator in ("equals", "notEquals"):
        short = {"json": "json", "xml": "xml"}.get(expected, expected)
        same = short in found.split(";")[0]
        ok = same if operator == "equals" else not same
        return ok, f"Content-Type is {found or '(none)'!r}; expected {operator} {expected!r}"
    return _compared(operator, [found] if found else [], expected, "Content-Type")


def _compare_to_source(state: ScriptState, spec: dict[str, Any]) -> tuple[bool, str]:
    other = state.payload(spec["compareToSourceId"])
    operator = _operator(spec)
    if operator == "eval":
        raise Unsupported("operator eval with compareToSourceId")
    if isinstance(spec.get("compareToSourceExpression"), str):
        theirs = state.fhirpath(other, state.substitute(spec["compareToSourceExpression"]))
        mine_expr = spec.get("expression", spec["compareToSourceExpression"])
        mine = state.fhirpath(_source(state, spec), state.substitute(str(mine_expr)))
        what = str(mine_expr)
    elif isinstance(spec.get("compareToSourcePath"), str):
        theirs = state.path(other, state.substitute(spec["compareToSourcePath"]))
        mine_path = spec.get("path", spec["compareToSourcePath"])
        mine = state.path(_source(state, spec), state.substitute(str(mine_path)))
        what = str(mine_path)
    else:
        raise Unsupported("compareToSourceId without compareToSourceExpression or Path")
    ok, message = _compared(operator, mine, text_of(theirs), what)
    return ok, f"{message} (from {spec['compareToSourceId']})"


def _validate_profile(state: ScriptState, spec: dict[str, Any]) -> tuple[bool, str]:
    profile_id = spec["validateProfileId"]
    canonical = next(
        (
            str(p.get("reference"))
            for p in state.script.data.get("profile", [])
            if p.get("id") == profile_id and p.get("reference")
        ),
        None,
    )
    if canonical is None:
        raise ActionError(f"validateProfileId {profile_id!r}: no such TestScript.profile")
    try:
        validator = state.profiles.validator()
    except ValueError as exc:
        raise ActionError(f"not run: {exc}") from None
    if validator is None:
        raise ActionError(
            f"not run: pack missing (no FHIR package installed for {canonical}; "
            "kcert packs install PACKAGE.tgz, or give --package)"
        )
    defining = validator.index.defining(canonical)
    if not defining:
        # never another version than the one named: that would judge a different standard
        raise ActionError(f"not run: pack missing (profile {canonical} is in no given package)")
    resource = _source(state, spec).resource
    if resource is None:
        return False, "the body to validate is not a FHIR resource"
    asked = ValidatorContext(profile=canonical, package=defining[0])
    findings = [f for f in validator.iter_findings(resource, asked) if f.blocking]
    label = asked.fhir_context.label if asked.fhir_context else "?"  # set once iterated
    chosen = f"{canonical} (context {label})"
    if not findings:
        return True, f"valid against {chosen}"
    shown = "; ".join(f"{f.location.path}: {f.message}" for f in findings[:MAX_SHOWN])
    more = f" (and {len(findings) - MAX_SHOWN} more)" if len(findings) > MAX_SHOWN else ""
    return False, f"{len(findings)} profile error(s) against {chosen}: {shown}{more}"


def _minimum(state: ScriptState, spec: dict[str, Any]) -> tuple[bool, str]:
    expected = state.payload(spec["minimumId"]).resource
    actual = _source(state, spec).resource
    if expected is None or actual is None:
        return False, "minimumId: one side is not a FHIR resource"
    missing = _missing(expected, actual, str(expected.get("resourceType", "")))
    if missing:
        return False, f"minimumId {spec['minimumId']}: {missing} is missing or different"
    return True, f"contains everything of {spec['minimumId']}"


def _missing(expected: Any, actual: Any, path: str) -> str:
    """The first place where `expected` is not contained in `actual`, or ""."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return path
        for key, value in expected.items():
            if key in ("id", "meta", "text") and path.count(".") == 0:
                continue  # the server assigns these
            if key not in actual:
                return f"{path}.{key}"
            found = _missing(value, actual[key], f"{path}.{key}")
            if found:
                return found
        return ""
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return path
        for index, item in enumerate(expected):
            if all(_missing(item, candidate, path) for candidate in actual):
                return f"{path}[{index}]"
        return ""
    return "" if expected == actual else path


def _navigation(state: ScriptState, spec: dict[str, Any]) -> tuple[bool, str]:
    if spec["navigationLinks"] is not True:
        return True, "navigation links not required"
    resource = _source(state, spec).resource or {}
    relations = {
        str(link.get("relation")) for link in resource.get("link", []) if isinstance(link, dict)
    }
    missing = [r for r in ("first", "last") if r not in relations]
    if resource.get("resourceType") != "Bundle":
        return False, "navigationLinks: the response is not a Bundle"
    if missing:
        return False, f"navigationLinks: the Bundle has no {' and no '.join(missing)} link"
    return True, "the Bundle has first and last links"
