"""Apply one differential element to the base element it constrains (profiling.html rules)."""

from __future__ import annotations

from typing import Any

from harness.validators.fhirprofile.snapshot_tree import Element, SnapshotError

# Taken from the differential as they are: the profile says what it wants instead.
REPLACED = frozenset(
    {
        "representation",
        "sliceName",
        "sliceIsConstraining",
        "label",
        "short",
        "min",
        "max",
        "meaningWhenMissing",
        "orderMeaning",
        "maxLength",
        "mustSupport",
        "isModifier",
        "isModifierReason",
        "isSummary",
        "example",
        "contentReference",
    }
)
# Markdown a profile may extend rather than replace: text starting "..." is appended.
APPENDABLE = frozenset({"definition", "comment", "requirements"})
# Never inherited from the differential: they locate the element, the generator sets them.
LOCATING = frozenset({"id", "path", "base"})
# Value kinds a profile may choose when the base allows Quantity (R4 Quantity profiles).
QUANTITY_KINDS = frozenset(
    {"Age", "Count", "Distance", "Duration", "MoneyQuantity", "SimpleQuantity"}
)
FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
RESOURCE_KINDS = frozenset({"Resource", "DomainResource"})
CHOICE_PREFIXES = ("fixed", "pattern", "defaultValue", "minValue", "maxValue")


def merge_element(target: Element, diff: Element, element_id: str) -> None:
    """Change `target` (already the caller's own copy) as `diff` says."""
    for key, value in diff.items():
        try:
            _merge_property(target, key, value, element_id)
        except (TypeError, AttributeError) as exc:
            raise SnapshotError(f"{element_id}: {key} is malformed ({exc})") from None


def _merge_property(target: Element, key: str, value: Any, element_id: str) -> None:
    """One property of a differential element onto the base element."""
    if key in LOCATING:
        return
    if key in REPLACED:
        target[key] = value
    elif key in APPENDABLE:
        target[key] = _markdown(target.get(key), value)
    elif key == "type":
        target[key] = _narrowed_types(target.get("type"), value, element_id)
    elif key.startswith(CHOICE_PREFIXES):
        prefix = next(p for p in CHOICE_PREFIXES if key.startswith(p))
        if prefix == "fixed" and key in target and target[key] != value:
            # a derived profile may narrow, never change, what its base fixed
            raise SnapshotError(
                f"{element_id}: the base fixes it to {target[key]!r}; a profile cannot fix it "
                f"to {value!r}"
            )
        for old in [k for k in target if k.startswith(prefix) and k != key]:
            del target[old]  # one value[x] per kind: the differential's type wins
        target[key] = value
    elif key in ("alias", "condition"):
        target[key] = _union(target.get(key), value, ())
    elif key == "code":
        target[key] = _union(target.get(key), value, ("system", "code"))
    elif key == "constraint":
        target[key] = _union(target.get(key), value, ("key",), replace=True)
    elif key == "mapping":
        target[key] = _union(target.get(key), value, ("identity", "map"))
    elif key in ("extension", "modifierExtension"):
        target[key] = _union(target.get(key), value, ("url",), replace=True)
    elif key in ("binding", "slicing"):
        target[key] = _merged_dict(target.get(key), value, key, element_id)
    elif key.startswith("_"):  # a primitive's id/extensions travel with the primitive
        target[key] = value
    else:
        raise SnapshotError(f"{element_id}: unknown ElementDefinition property {key!r}")


def _markdown(base: Any, text: Any) -> Any:
    if isinstance(text, str) and text.startswith("...") and isinstance(base, str):
        return base + "\r\n\r\n" + text[3:].lstrip()
    return text


def _union(base: Any, extra: Any, fields: tuple[str, ...], replace: bool = False) -> list[Any]:
    """Base items then the differential's; an item with the same key is kept once (with
    replace, the differential's one wins). Strings are their own key."""
    if not isinstance(extra, list):
        raise TypeError(f"a list was expected, not {extra!r}"[:120])
    items = list(base) if isinstance(base, list) else []
    index = {_key(item, fields): n for n, item in enumerate(items)}
    for item in extra:
        key = _key(item, fields)
        if key in index:
            if replace:
                items[index[key]] = item
            continue
        index[key] = len(items)
        items.append(item)
    return items


def _key(item: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(item, dict):
        return tuple(str(item.get(f)) for f in fields)
    return str(item)


def _merged_dict(base: Any, diff: Any, key: str, element_id: str) -> dict[str, Any]:
    if not isinstance(diff, dict):
        raise SnapshotError(f"{element_id}: {key} is not an object")
    merged = dict(base) if isinstance(base, dict) else {}
    merged.update(diff)
    return merged


def _narrowed_types(base: Any, diff: Any, element_id: str) -> list[Any]:
    """The differential's types, each of which the base must allow (types only narrow)."""
    if not isinstance(diff, list) or not all(isinstance(t, dict) for t in diff):
        raise SnapshotError(f"{element_id}: type is not a list of objects")
    allowed = {str(t.get("code")) for t in base or [] if isinstance(t, dict)}
    # FHIRPath-typed elements (Extension.url, id) name their FHIR type in an extension
    allowed |= {
        str(e.get("valueUrl") or e.get("valueUri"))
        for t in base or []
        if isinstance(t, dict)
        for e in t.get("extension") or []
        if isinstance(e, dict) and e.get("url") == FHIR_TYPE
    }
    for item in diff:
        code = str(item.get("code"))
        if not allowed or code in allowed:
            continue
        if code in QUANTITY_KINDS and "Quantity" in allowed:
            continue
        if allowed & RESOURCE_KINDS:
            continue
        raise SnapshotError(
            f"{element_id}: type {code} is not one the base allows ({', '.join(sorted(allowed))})"
        )
    return list(diff)
