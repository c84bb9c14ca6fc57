"""TypeSource from the fhir.resources R4B models: the fallback when no R4 base package is installed.

The models' field annotations give the types and cardinality, `json_schema_extra` marks FHIR
elements (`element_property`) and choices (`one_of_many`), `elements_sequence()` the order.
R4B is not R4: a handful of elements differ, which is why the base package is preferred.
"""

from __future__ import annotations

import types as pytypes
import typing
from typing import Any

from harness.fhir.types import (
    PRIMITIVE_TYPES,
    CachedTypes,
    ElementInfo,
    Kind,
    TypeDef,
    primitive_class,
)

_UNIONS = (typing.Union, pytypes.UnionType)


def _model_class(name: str) -> type[Any] | None:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(name)
    except (KeyError, ValueError, LookupError, AttributeError):
        return None


def _is_named_type(cls: type[Any]) -> bool:
    """A FHIR type or resource, not a backbone class (PatientContact lives in patient.py)."""
    return cls.__module__.rsplit(".", 1)[-1] == cls.__name__.lower()


def _describe(annotation: Any) -> tuple[str, type[Any] | None, bool]:
    """(type code, model class if complex, repeats) of a field annotation."""
    repeats = False
    for _ in range(4):  # Optional[List[Annotated[...]]] is three layers at most
        origin = typing.get_origin(annotation)
        if origin in _UNIONS:
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                break
        elif origin is list:
            repeats = True
            annotation = typing.get_args(annotation)[0]
        else:
            break
    if typing.get_origin(annotation) is typing.Annotated:
        for marker in typing.get_args(annotation)[1:]:
            visit = getattr(marker, "__visit_name__", None)
            if isinstance(visit, str):
                return visit, None, repeats
        annotation = typing.get_args(annotation)[0]
    if annotation is bool:
        return "boolean", None, repeats
    if annotation is str:
        return "string", None, repeats
    get_klass = getattr(annotation, "get_model_klass", None)
    if get_klass is not None:
        cls = get_klass()
        if _is_named_type(cls):
            return cls.__name__, cls, repeats
        base = (
            "BackboneElement"
            if any(b.__name__ == "BackboneElement" for b in cls.__mro__)
            else "Element"
        )
        return base, cls, repeats
    return "string", None, repeats


class ModelTypes(CachedTypes):
    """TypeSource answered from the fhir.resources R4B pydantic models."""

    def __init__(self) -> None:
        super().__init__()
        self._class_paths: dict[type[Any], str] = {}  # a backbone class's first (canonical) path

    def _build(self, path: str) -> TypeDef | None:
        name, *rest = path.split(".")
        if name in PRIMITIVE_TYPES:
            return None if rest else _primitive_def(name)
        cls = _model_class(name)
        if cls is None or not _is_named_type(cls):
            return None
        if rest:
            self.definition(path.rsplit(".", 1)[0])  # parents first: canonical paths top-down
        walked = name
        for segment in rest:
            field = _fields(cls).get(segment)
            if field is None:
                return None
            _, target, _ = _describe(field.annotation)
            if target is None or _is_named_type(target):
                return None
            walked = self._class_paths.setdefault(target, f"{walked}.{segment}")
            cls = target
        if rest:
            return TypeDef(path, "element", self._children(cls, walked, "element"))
        kind: Kind = "resource" if cls.has_resource_base() else "complex-type"
        return TypeDef(path, kind, self._children(cls, path, kind))

    def _children(self, cls: type[Any], path: str, kind: Kind) -> list[ElementInfo]:
        fields = _fields(cls)
        infos: list[ElementInfo] = []
        choices: dict[str, int] = {}
        for json_name in cls.elements_sequence():
            field = fields.get(json_name)
            extra = field.json_schema_extra if field is not None else None
            if field is None or not isinstance(extra, dict) or not extra.get("element_property"):
                continue
            code, target, repeats = _describe(field.annotation)
            choice = extra.get("one_of_many")
            if isinstance(choice, str):
                if choice in choices:
                    at = choices[choice]
                    infos[at] = _with_type(infos[at], code)
                    continue
                choices[choice] = len(infos)
                infos.append(ElementInfo(choice, repeats, (code,), True, len(infos)))
                continue
            inline = None
            if target is not None and not _is_named_type(target):
                inline = self._class_paths.setdefault(target, f"{path}.{json_name}")
            attribute = kind != "resource" and (
                json_name == "id" or (json_name == "url" and cls.__name__ == "Extension")
            )
            infos.append(
                ElementInfo(json_name, repeats, (code,), False, len(infos), inline, attribute)
            )
        return infos


def _fields(cls: type[Any]) -> dict[str, Any]:
    """Model fields by their JSON name (the alias: `class` for the field class_fhir)."""
    return {(f.alias or n): f for n, f in cls.model_fields.items()}


def _with_type(info: ElementInfo, code: str) -> ElementInfo:
    return ElementInfo(info.name, info.repeats, (*info.types, code), True, info.order, None, False)


def _primitive_def(code: str) -> TypeDef:
    children = [
        ElementInfo("id", False, ("string",), False, 0, None, True),
        ElementInfo("extension", True, ("Extension",), False, 1),
        ElementInfo("value", False, (code,), False, 2, None, True),
    ]
    return TypeDef(code, "primitive-type", children, primitive_class(code))
