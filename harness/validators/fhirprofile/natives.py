"""Python versions of the base FHIR invariants that every element or resource carries.

They are keyed by the exact expression text: a profile that changes an expression falls back to
FHIRPath. They exist for speed (ele-1 alone sits on thousands of elements) and because
fhirpathpy has no htmlChecks(); each answers None when it prefers FHIRPath to decide.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from lxml import etree

from harness.validators.fhirprofile.primitives import instant_bounds, widened

Native = Callable[[Any], bool | None]

XHTML = "{http://www.w3.org/1999/xhtml}"
# Narrative may not carry active content (FHIR R4, Narrative: txt-1).
_FORBIDDEN = frozenset(
    {
        "script",
        "object",
        "applet",
        "embed",
        "iframe",
        "form",
        "input",
        "button",
        "frame",
        "frameset",
        "base",
        "link",
        "meta",
        "style",
        "textarea",
        "select",
    }
)


def _present(value: Any) -> bool:
    return value not in (None, "", [], {})


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def ele_1(item: Any) -> bool | None:
    # hasValue() or (children().count() > id.count())
    if isinstance(item, dict):
        return any(k != "id" and _present(v) for k, v in item.items())
    return _present(item)


def ext_1(item: Any) -> bool | None:
    # extension.exists() != value.exists()
    if not isinstance(item, dict):
        return None
    has_value = any(k.startswith("value") and _present(v) for k, v in item.items())
    return _present(item.get("extension")) != has_value


def _contained(item: Any) -> list[dict[str, Any]]:
    return [c for c in _list(_dict(item).get("contained")) if isinstance(c, dict)]


def dom_2(item: Any) -> bool | None:
    return not any(_present(c.get("contained")) for c in _contained(item))


def dom_3(item: Any) -> bool | None:
    # only the common case is native: nothing contained, nothing to be referenced
    return True if not _contained(item) else None


def dom_4(item: Any) -> bool | None:
    metas = [_dict(c.get("meta")) for c in _contained(item)]
    return not any(_present(m.get("versionId")) or _present(m.get("lastUpdated")) for m in metas)


def dom_5(item: Any) -> bool | None:
    return not any(_present(_dict(c.get("meta")).get("security")) for c in _contained(item))


def dom_6(item: Any) -> bool | None:
    return _present(_dict(_dict(item).get("text")).get("div"))


def _bundle_type(item: Any) -> Any:
    return _dict(item).get("type")


def _entries(item: Any) -> list[dict[str, Any]]:
    return [e for e in _list(_dict(item).get("entry")) if isinstance(e, dict)]


def bdl_1(item: Any) -> bool | None:
    return "total" not in _dict(item) or _bundle_type(item) in ("searchset", "history")


def bdl_2(item: Any) -> bool | None:
    searched = any(_present(e.get("search")) for e in _entries(item))
    return not searched or _bundle_type(item) == "searchset"


def bdl_3(item: Any) -> bool | None:
    wanted = _bundle_type(item) in ("batch", "transaction", "history")
    return all(_present(e.get("request")) == wanted for e in _entries(item))


def bdl_4(item: Any) -> bool | None:
    wanted = _bundle_type(item) in ("batch-response", "transaction-response", "history")
    return all(_present(e.get("response")) == wanted for e in _entries(item))


def bdl_7(item: Any) -> bool | None:
    if _bundle_type(item) == "history":
        return True
    keys = [
        (e["fullUrl"], _dict(_dict(e.get("resource")).get("meta")).get("versionId"))
        for e in _entries(item)
        if _present(e.get("fullUrl"))
    ]
    return len(keys) == len(set(keys))


def bdl_9(item: Any) -> bool | None:
    identifier = _dict(_dict(item).get("identifier"))
    return _bundle_type(item) != "document" or (
        _present(identifier.get("system")) and _present(identifier.get("value"))
    )


def bdl_10(item: Any) -> bool | None:
    return _bundle_type(item) != "document" or _present(_dict(item).get("timestamp"))


def _first_type(item: Any) -> Any:
    entries = _entries(item)
    return _dict(entries[0].get("resource")).get("resourceType") if entries else None


def bdl_11(item: Any) -> bool | None:
    return bool(_bundle_type(item) != "document" or _first_type(item) == "Composition")


def bdl_12(item: Any) -> bool | None:
    return bool(_bundle_type(item) != "message" or _first_type(item) == "MessageHeader")


def bdl_5(item: Any) -> bool | None:
    entry = _dict(item)
    return any(_present(entry.get(k)) for k in ("resource", "request", "response"))


def bdl_8(item: Any) -> bool | None:
    full_url = _dict(item).get("fullUrl")
    if not isinstance(full_url, str):
        return True  # no fullUrl, so no version-specific one: what the rule is about
    return "/_history/" not in full_url


def _has(item: dict[str, Any], name: str) -> bool:
    # FHIRPath exists(): a primitive with only an id or extensions exists too
    return _present(item.get(name)) or _present(item.get("_" + name))


def _either_absent_or(first: str, second: str) -> Native:
    """`first.empty() or second.exists()` on one object (qty-3, cpt-2, att-1)."""

    def native(item: Any) -> bool | None:
        if not isinstance(item, dict):
            return None
        return not _has(item, first) or _has(item, second)

    return native


def exp_1(item: Any) -> bool | None:
    if not isinstance(item, dict):
        return None
    return _has(item, "expression") or _has(item, "reference")


def ref_1(item: Any, ctx: Any) -> bool | None:
    """A local reference (#id) names a resource contained in %rootResource."""
    if not isinstance(item, dict):
        return None
    reference = item.get("reference")
    if reference is None and "_reference" not in item:
        return True  # nothing that starts with '#'
    if not isinstance(reference, str):
        return None
    if not reference.startswith("#"):
        return True
    ids = {c.get("id") for c in _contained(ctx.root_resource)}
    return reference[1:] in ids


# Natives that need the evaluation context (%rootResource): (item, NativeContext) -> answer.
CONTEXTUAL: dict[str, Callable[[Any, Any], bool | None]] = {
    "reference.startsWith('#').not() or (reference.substring(1).trace('url') in "
    "%rootResource.contained.id.trace('ids'))": ref_1,
}


def per_1(item: Any) -> bool | None:
    """A Period's start is not after its end. Precisions may differ (2020 vs 2020-05-01):
    only a start that is surely later than the end breaks the rule."""
    if not isinstance(item, dict):
        return None
    start, end = item.get("start"), item.get("end")
    if start is None or end is None:
        return True  # start.hasValue().not() or end.hasValue().not()
    if not isinstance(start, str) or not isinstance(end, str):
        return None
    first, last = instant_bounds(start), instant_bounds(end)
    if first is None or last is None:
        return None
    if ("T" in start) != ("T" in end):
        first, last = widened(start, first), widened(end, last)
    return not first[0] >= last[1]


@lru_cache(maxsize=1024)
def html_ok(div: str) -> bool:
    """FHIR narrative rules: an XHTML div, no active content, some non-whitespace content."""
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        root = etree.fromstring(div.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return False
    if root.tag != XHTML + "div":
        return False
    has_content = False
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if not element.tag.startswith(XHTML) or element.tag[len(XHTML) :] in _FORBIDDEN:
            return False
        if any(str(name).lower().startswith("on") for name in element.attrib):
            return False
        if element.tag == XHTML + "img" or (element.text or "").strip():
            has_content = True
        if (element.tail or "").strip():
            has_content = True
    return has_content


def txt_html(item: Any) -> bool | None:
    # htmlChecks(), which fhirpathpy lacks, on Narrative.div
    return html_ok(item) if isinstance(item, str) else None


def vs_1(item: Any) -> bool | None:
    # ($this as dateTime).toString().length() >= 8 on Observation.effective[x]: a dateTime
    # precise to the day; a Period (or anything but a dateTime) is not a dateTime, and the
    # reference validator reports vs-1 on it. fhirpathpy cannot tell a plain JSON string's
    # type, so it answers false for every dateTime.
    if isinstance(item, str):
        return len(item) >= 8
    return False if isinstance(item, dict) else None


NATIVE: dict[str, Native] = {
    "($this as dateTime).toString().length() >= 8": vs_1,
    "code.empty() or system.exists()": _either_absent_or("code", "system"),
    "value.empty() or system.exists()": _either_absent_or("value", "system"),
    "data.empty() or contentType.exists()": _either_absent_or("data", "contentType"),
    "expression.exists() or reference.exists()": exp_1,
    "start.hasValue().not() or end.hasValue().not() or (start <= end)": per_1,
    "htmlChecks()": txt_html,
    "hasValue() or (children().count() > id.count())": ele_1,
    "extension.exists() != value.exists()": ext_1,
    "contained.contained.empty()": dom_2,
    "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()": dom_4,
    "contained.meta.security.empty()": dom_5,
    "text.`div`.exists()": dom_6,
    "total.empty() or (type = 'searchset') or (type = 'history')": bdl_1,
    "entry.search.empty() or (type = 'searchset')": bdl_2,
    "entry.all(request.exists() = (%resource.type = 'batch' or %resource.type = 'transaction' "
    "or %resource.type = 'history'))": bdl_3,
    "entry.all(response.exists() = (%resource.type = 'batch-response' or %resource.type = "
    "'transaction-response' or %resource.type = 'history'))": bdl_4,
    "(type = 'history') or entry.where(fullUrl.exists()).select(fullUrl&resource.meta.versionId)"
    ".isDistinct()": bdl_7,
    "type = 'document' implies (identifier.system.exists() and identifier.value.exists())": bdl_9,
    "type = 'document' implies (timestamp.hasValue())": bdl_10,
    "type = 'document' implies entry.first().resource.is(Composition)": bdl_11,
    "type = 'message' implies entry.first().resource.is(MessageHeader)": bdl_12,
    "resource.exists() or request.exists() or response.exists()": bdl_5,
    "fullUrl.contains('/_history/').not()": bdl_8,
}

# dom-3 is long; keyed by its start so small whitespace differences between packages still hit
DOM_3_PREFIX = "contained.where((('#'+id in (%resource.descendants().reference"


# `matches('regex')` on a string element, or `value.matches('regex')` on one whose value is a
# string (MedCom's uuid, GLN, SOR and CPR rules). The regex comes from the expression itself;
# literals with escapes are left to FHIRPath, which unescapes them first.
MATCHES_EXPRESSION = re.compile(r"^(value\.)?matches\('([^'\\]+)'\)$")


def _matcher(regex: re.Pattern[str], on_value: bool) -> Native:
    def native(item: Any) -> bool | None:
        # fhirpathpy: re.search with DOTALL on the one string; `value.` of a primitive is the
        # primitive itself (invariants.py reads it so)
        if on_value and isinstance(item, dict):
            if "_value" in item or not isinstance(item.get("value", ""), str):
                return None
            if "value" not in item:
                return False  # empty in, empty out: not true
            item = item["value"]
        if not isinstance(item, str):
            return None
        return regex.search(item) is not None

    return native


def native_for(expression: str) -> Native | None:
    if expression in NATIVE:
        return NATIVE[expression]
    if expression.startswith(DOM_3_PREFIX):
        return dom_3
    found = MATCHES_EXPRESSION.match(expression)
    if found is not None:
        try:
            regex = re.compile(found.group(2), re.DOTALL)
        except re.error:
            return None  # fhirpathpy reports it cannot evaluate it
        return _matcher(regex, bool(found.group(1)))
    return None
