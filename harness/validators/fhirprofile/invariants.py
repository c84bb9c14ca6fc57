"""FHIRPath invariants: each expression compiled once; resolve(), conformsTo(), memberOf() and
htmlChecks() answered from the Bundle and index being validated; common base invariants native."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from harness.validators.fhirprofile import medcom, natives
from harness.validators.fhirprofile.elements import Constraint, ElementNode
from harness.validators.fhirprofile.references import BundleResolver
from harness.validators.fhirprofile.walk import Defer

Compiled = Callable[[Any, Any], list[Any]]


def _typed(data: dict[str, Any], type_path: str) -> Any:
    """A fhirpathpy node that knows its FHIR type (fhirpathpy is untyped)."""
    make: Callable[[Any, str], Any] = ResourceNode.create_node
    return make(data, type_path)


def _as_node(value: Any) -> Any:
    if isinstance(value, dict) and isinstance(value.get("resourceType"), str):
        return _typed(value, value["resourceType"])
    return value


class NotEvaluable(Exception):
    """Raised inside a FHIRPath function when the answer cannot be known here."""


@dataclass
class Scope:
    """What the FHIRPath functions may consult while one validate() call runs."""

    resolver: BundleResolver
    conforms_to: Callable[[dict[str, Any], str], bool]
    member_of: Callable[[Any, str], bool | None]
    # the fullUrl of the entry being judged: relative references resolve against it
    base: Callable[[], str | None] = lambda: None


_SCOPE: ContextVar[Scope | None] = ContextVar("fhirprofile_scope", default=None)


def enter_scope(scope: Scope) -> object:
    return _SCOPE.set(scope)


def leave_scope(token: object) -> None:
    _SCOPE.reset(token)  # type: ignore[arg-type]


def _scope() -> Scope:
    scope = _SCOPE.get()
    if scope is None:
        raise NotEvaluable("no Bundle context to resolve against")
    return scope


def _resolve(inputs: list[Any]) -> list[Any]:
    resolver = _scope().resolver
    if not resolver.by_full_url and not resolver.by_type_id and inputs:
        # a resource validated on its own: what it references is simply not here
        raise NotEvaluable("resolve() needs the Bundle the resource travels in")
    found = []
    for item in inputs:
        target = resolver.resolve_any(item, _scope().base())
        if target is not None:
            # typed nodes, so ofType()/is() work on what resolve() returns
            found.append(_typed(target, str(target.get("resourceType"))))
    return found


def _conforms_to(inputs: list[Any], url: Any) -> list[Any]:
    scope = _scope()
    results = [scope.conforms_to(item, str(url)) for item in inputs if isinstance(item, dict)]
    return [all(results)] if results else []


def _member_of(inputs: list[Any], url: Any) -> list[Any]:
    scope = _scope()
    if not inputs:
        return []
    answers = [scope.member_of(item, str(url)) for item in inputs]
    if any(a is None for a in answers):
        raise NotEvaluable(f"ValueSet {url} cannot be expanded from the installed packages")
    return [all(bool(a) for a in answers)]


class NativeContext:
    """What a contextual native (medcom.py) may consult: %resource and resolve() as
    _resolve() answers it, or Defer where _resolve() would say it cannot."""

    def __init__(self, env: dict[str, Any]) -> None:
        self._env = env

    @property
    def resource(self) -> Any:
        if "resource" not in self._env:
            raise Defer  # fhirpathpy would fail on the unknown %resource
        return self._env["resource"]

    @property
    def root_resource(self) -> Any:
        if "rootResource" not in self._env:
            raise Defer
        return self._env["rootResource"]

    def resolve(self, values: list[Any]) -> list[dict[str, Any]]:
        if not values:
            return []
        scope = _SCOPE.get()
        if scope is None or (not scope.resolver.by_full_url and not scope.resolver.by_type_id):
            raise Defer
        found = (scope.resolver.resolve_any(v, scope.base()) for v in values)
        return [target for target in found if target is not None]


def _html_checks(inputs: list[Any]) -> list[Any]:
    return [all(natives.html_ok(str(item)) for item in inputs)] if inputs else []


_FUNCTIONS = {
    "resolve": {"fn": _resolve, "arity": {0: []}},
    "conformsTo": {"fn": _conforms_to, "arity": {1: ["String"]}},
    "memberOf": {"fn": _member_of, "arity": {1: ["String"]}},
    "htmlChecks": {"fn": _html_checks, "arity": {0: []}},
}


# Outcomes of invariants that depend on nothing but a primitive value (no %variables, no
# resolve() and friends): the same value gives the same answer, so later messages reuse it.
_IMPURE_MARKERS = ("%", "resolve(", "conformsTo(", "memberOf(", "now(", "today(", "trace(")
_PURE_OUTCOMES: dict[tuple[str, Any], bool | str] = {}
_PURE_LIMIT = 50_000


def forget_pure_outcomes() -> None:
    _PURE_OUTCOMES.clear()


def _pure(expression: str) -> bool:
    return not any(marker in expression for marker in _IMPURE_MARKERS)


@dataclass(frozen=True)
class Invariant:
    key: str
    severity: str
    human: str
    expression: str
    compiled: Compiled | None
    native: natives.Native | None
    compile_error: str
    pure: bool = False
    context_native: medcom.ContextNative | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "error"

    def evaluate(self, item: Any, type_path: str, env: dict[str, Any]) -> bool | str:
        """True/False, or the reason (a string) why the invariant could not be evaluated."""
        if self.native is not None:
            answer = self.native(item)
            if answer is not None:
                return answer
        if self.context_native is not None:
            answer = self.context_native(item, NativeContext(env))
            if answer is not None:
                return answer
        if self.compiled is None:
            return self.compile_error
        memo = self.pure and isinstance(item, str | int | float | bool)
        if memo:
            cached = _PURE_OUTCOMES.get((self.expression, item))
            if cached is not None:
                return cached
        outcome = self._run(item, type_path, env)
        if memo:
            if len(_PURE_OUTCOMES) >= _PURE_LIMIT:
                _PURE_OUTCOMES.clear()  # crude bound; refills with what is current
            _PURE_OUTCOMES[(self.expression, item)] = outcome
        return outcome

    def evaluate_fhirpath(self, item: Any, type_path: str, env: dict[str, Any]) -> bool | str:
        """What fhirpathpy alone answers (no native, no reuse): the reference natives are
        tested against."""
        return self._run(item, type_path, env) if self.compiled else self.compile_error

    def _run(self, item: Any, type_path: str, env: dict[str, Any]) -> bool | str:
        assert self.compiled is not None
        compiled = self.compiled
        if not isinstance(item, dict | list) and self.expression.startswith("value."):
            # `value` of a primitive is the primitive itself (its XML value attribute), as the
            # HL7 validator reads it; profiles put such expressions on primitive elements
            tail, _ = _compile(self.expression[len("value.") :])
            compiled = tail or compiled
        # every object gets its FHIR type: an element its path, so the engine can navigate
        # choice elements (value -> valueCoding) inside it; a resource its resourceType, so
        # type() and ofType() work on %context, %resource and %rootResource too
        if isinstance(item, dict):
            rtype = item.get("resourceType")
            if not isinstance(rtype, str):
                context = _typed(item, type_path)
            elif re.search(r"(^|[^A-Za-z0-9%.])" + rtype + r"\.", self.expression):
                # fhirpathpy loses a typed resource's children behind its type name
                # (`Bundle.entry` is empty): such expressions get the plain resource
                context = item
            else:
                context = _typed(item, rtype)
        else:
            context = item
        env = {k: _as_node(v) for k, v in env.items()}
        try:
            result = compiled(context, env)
        except NotEvaluable as exc:
            return str(exc)
        except Exception as exc:  # fhirpathpy raises bare Exceptions for what it lacks
            return f"fhirpathpy cannot evaluate it: {exc}"
        return _truthy(result)


def _truthy(result: list[Any]) -> bool:
    # FHIRPath boolean reading, as the HL7 validator does: empty is false
    if not result:
        return False
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return True


@lru_cache(maxsize=4096)
def _compile(expression: str) -> tuple[Compiled | None, str]:
    try:
        compiled: Compiled = fhirpathpy.compile(
            expression, models["r4"], {"userInvocationTable": _FUNCTIONS}
        )
    except Exception as exc:  # bare Exceptions from the parser
        return None, f"fhirpathpy cannot compile it: {exc}"
    return compiled, ""


@lru_cache(maxsize=8192)
def invariant(constraint: Constraint) -> Invariant:
    compiled, error = _compile(constraint.expression)
    return Invariant(
        constraint.key,
        constraint.severity,
        constraint.human,
        constraint.expression,
        compiled,
        natives.native_for(constraint.expression),
        error,
        _pure(constraint.expression),
        medcom.context_native_for(constraint.expression) or _contextual(constraint.expression),
    )


def _contextual(expression: str) -> medcom.ContextNative | None:
    native = natives.CONTEXTUAL.get(expression)
    if native is None:
        return None

    def run(item: Any, ctx: Any) -> bool | None:
        try:
            return native(item, ctx)
        except Defer:
            return None

    return run


def invariants_of(
    node: ElementNode, constraints: tuple[Constraint, ...] | None = None
) -> tuple[tuple[Constraint, Invariant], ...]:
    """The node's constraints (or the given ones, e.g. with its datatype's) with their compiled
    invariants, kept on the node: looking each up again (hashing the constraint) cost more than
    evaluating most of them."""
    wanted = node.constraints if constraints is None else constraints
    key = ("invariants", id(wanted))
    found: tuple[tuple[Constraint, Invariant], ...] | None = node.memo.get(key)
    if found is None:
        found = tuple((c, invariant(c)) for c in wanted)
        node.memo[key] = found
    return found
