"""Rules the FHIR specification sets for Bundles beyond their profiles (bundle.html): entry
identities (fullUrl), link relations, search results, and documents and messages whose entries
must hang together by references."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from harness.validators.fhirprofile.references import RESTFUL, BundleResolver

_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_ONCE = ("self", "first", "previous", "next", "last")
_PAGING = ("first", "previous", "next", "last")
MAX_ENTRIES = 20_000


@dataclass(frozen=True)
class BundleIssue:
    path: str
    message: str
    error: bool = True


def bundle_issues(
    bundle: dict[str, Any],
    path: str,
    resolver: BundleResolver,
    is_resource_type: Callable[[str], bool],
) -> list[BundleIssue]:
    entries = _entries(bundle)
    issues = list(_full_urls(entries, path, is_resource_type))
    issues += _links(bundle, path)
    kind = bundle.get("type")
    if kind == "searchset":
        issues += _search_results(entries, path)
    if kind in ("document", "message") and entries:
        issues += _reachability(entries, path, resolver, kind)
    return issues


def _entries(bundle: dict[str, Any]) -> list[tuple[int, dict[str, Any], dict[str, Any] | None]]:
    raw = bundle.get("entry")
    found = []
    for number, entry in enumerate(raw[:MAX_ENTRIES] if isinstance(raw, list) else []):
        if isinstance(entry, dict):
            resource = entry.get("resource")
            found.append((number, entry, resource if isinstance(resource, dict) else None))
    return found


def _full_urls(
    entries: list[tuple[int, dict[str, Any], dict[str, Any] | None]],
    path: str,
    is_resource_type: Callable[[str], bool],
) -> Iterator[BundleIssue]:
    for number, entry, resource in entries:
        full_url = entry.get("fullUrl")
        if not isinstance(full_url, str):
            continue
        where = f"{path}.entry[{number}]"
        if not _ABSOLUTE.match(full_url):
            yield BundleIssue(where, f"the fullUrl must be an absolute URL (not {full_url!r})")
            continue
        restful = RESTFUL.match(full_url)
        if restful is None or resource is None or restful.group("base") is None:
            continue
        if not is_resource_type(restful.group("type")):
            continue  # [base]/Obervation/1 is no RESTful URL, just a URL
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if rid is None:
            yield BundleIssue(
                where,
                f"the fullUrl {full_url!r} looks like a RESTful server URL, but the "
                "resource has no id",
            )
        elif (restful.group("type"), restful.group("id")) != (rtype, rid):
            yield BundleIssue(
                where,
                f"the fullUrl {full_url!r} looks like a RESTful server URL, so it must end "
                f"with the resource's type and id (/{rtype}/{rid})",
            )


def _links(bundle: dict[str, Any], path: str) -> Iterator[BundleIssue]:
    links = bundle.get("link")
    seen: set[str] = set()
    for number, link in enumerate(links if isinstance(links, list) else []):
        relation = link.get("relation") if isinstance(link, dict) else None
        if relation in _PAGING and bundle.get("type") not in ("searchset", "history"):
            yield BundleIssue(
                f"{path}.link[{number}].relation",
                f"the link relation {relation!r} pages through search results; a "
                f"{bundle.get('type')} Bundle has none",
            )
        if relation in _ONCE:
            if relation in seen:
                yield BundleIssue(
                    f"{path}.link[{number}]",
                    f"the link relation {relation!r} may occur only once",
                )
            seen.add(str(relation))


def element_id_issues(resource: dict[str, Any], path: str) -> Iterator[BundleIssue]:
    """Element ids are unique within a resource (a Bundle and each entry resource apart)."""
    entries = resource.get("entry") if resource.get("resourceType") == "Bundle" else None
    resources: list[tuple[Any, str]] = [(resource, path)]
    for number, entry in enumerate(entries[:MAX_ENTRIES] if isinstance(entries, list) else []):
        if isinstance(entry, dict) and isinstance(entry.get("resource"), dict):
            resources.append((entry["resource"], f"{path}.entry[{number}].resource"))
    for item, where in resources:
        seen: set[str] = set()
        for element_id, at in _ids(item, where, top=True):
            if element_id in seen:
                yield BundleIssue(at, f"duplicate element id {element_id!r} in one resource")
            seen.add(element_id)


def _ids(value: Any, path: str, top: bool = False) -> Iterator[tuple[str, str]]:
    """(id, path) of every element with an id, not descending into other resources."""
    if isinstance(value, dict):
        if not top and "resourceType" in value:
            return
        element_id = value.get("id")
        if not top and isinstance(element_id, str):
            yield element_id, path
        for key, child in value.items():
            if (key in ("entry", "contained") and top) or key == "resource":
                continue
            if key in ("snapshot", "differential"):
                continue  # ElementDefinition.id names an element of the profile, not a node
            if isinstance(child, list):
                for number, item in enumerate(child):
                    yield from _ids(item, f"{path}.{key}[{number}]")
            elif isinstance(child, dict):
                yield from _ids(child, f"{path}.{key}")


def _search_results(
    entries: list[tuple[int, dict[str, Any], dict[str, Any] | None]], path: str
) -> Iterator[BundleIssue]:
    for number, entry, resource in entries:
        if resource is None:
            continue
        search = entry.get("search")
        mode = search.get("mode") if isinstance(search, dict) else None
        where = f"{path}.entry[{number}].resource"
        if mode == "outcome" and resource.get("resourceType") != "OperationOutcome":
            yield BundleIssue(
                where,
                f"search mode outcome, but this is not an OperationOutcome "
                f"({resource.get('resourceType')})",
            )
        elif mode != "outcome" and not resource.get("id"):
            yield BundleIssue(where, "search results must have ids")


def _reachability(
    entries: list[tuple[int, dict[str, Any], dict[str, Any] | None]],
    path: str,
    resolver: BundleResolver,
    kind: str,
) -> Iterator[BundleIssue]:
    """Every entry of a document hangs off its Composition (of a message off its MessageHeader)
    by references; backwards only Provenance may."""
    resources = [(n, e, r) for n, e, r in entries if r is not None]
    if not resources:
        return
    first = resources[0][2]
    assert first is not None
    forward: dict[int, set[int]] = {}
    for _, entry, resource in resources:
        assert resource is not None
        base = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        targets = set()
        for reference in _references(resource):
            target = resolver.resolve(reference, base)
            if target is not None:
                targets.add(id(target))
        forward[id(resource)] = targets
    ahead = _closure({id(first)}, forward)
    backward: dict[int, set[int]] = {}
    for origin, pointed in forward.items():
        for aim in pointed:
            backward.setdefault(aim, set()).add(origin)
    either = _closure(ahead, {k: forward.get(k, set()) | backward.get(k, set()) for k in forward})
    root = "Composition" if kind == "document" else "MessageHeader"
    for number, entry, resource in resources[1:]:
        assert resource is not None
        key = id(resource)
        name = entry.get("fullUrl") or f"{resource.get('resourceType')}/{resource.get('id')}"
        where = f"{path}.entry[{number}]"
        if key not in either:
            yield BundleIssue(
                where,
                f"entry {name!r} is not reachable by references (forward or backward) from "
                f"the {root}",
                error=kind == "document",
            )
        elif (
            key not in ahead and resource.get("resourceType") != "Provenance" and kind == "document"
        ):
            yield BundleIssue(
                where,
                f"entry {name!r} is reachable from the Composition only backwards; only "
                "Provenance is meant to be used that way",
                error=False,
            )


def _closure(start: set[int], edges: dict[int, set[int]]) -> set[int]:
    seen = set(start)
    todo = list(start)
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _references(value: Any) -> Iterator[str]:
    """Every Reference.reference inside a resource, and contained resources' too."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            reference = item.get("reference")
            if isinstance(reference, str):
                yield reference
            stack.extend(v for k, v in item.items() if k != "text" and isinstance(v, dict | list))
        elif isinstance(item, list):
            stack.extend(v for v in item if isinstance(v, dict | list))
