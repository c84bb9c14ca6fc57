"""Resolve references between the entries of one Bundle (fullUrl, `Type/id`, `urn:uuid:`)."""

from __future__ import annotations

import re
from typing import Any

# A RESTful fullUrl: [base]/Type/id, the base being what relative references resolve against.
RESTFUL = re.compile(r"^(?P<base>.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")
_HISTORY = re.compile(r"/_history/[^/]+$")


class BundleResolver:
    """Built once per validated Bundle; plain dict look-ups afterwards."""

    def __init__(self, bundle: dict[str, Any] | None) -> None:
        self.by_full_url: dict[str, dict[str, Any]] = {}
        self.by_type_id: dict[str, list[dict[str, Any]]] = {}
        self.full_url_of: dict[int, str] = {}  # id(resource) -> its entry's fullUrl
        entries = bundle.get("entry", []) if isinstance(bundle, dict) else []
        for entry in entries if isinstance(entries, list) else []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                self.by_full_url.setdefault(full_url, resource)
                self.full_url_of[id(resource)] = full_url
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str) and isinstance(rid, str):
                self.by_type_id.setdefault(f"{rtype}/{rid}", []).append(resource)

    def resolve(self, reference: str, base_full_url: str | None = None) -> dict[str, Any] | None:
        """The entry resource a reference points to, or None when it is not in the Bundle.

        As bundle.html has it: an absolute reference (or urn:uuid) is looked up by fullUrl; a
        relative one resolves against the base of the referring entry's RESTful fullUrl, and
        not at all from an entry whose fullUrl is a URN. Without a referring entry (a resource
        validated on its own, or a FHIRPath resolve() that does not say), type and id decide
        when they name exactly one entry."""
        reference = _HISTORY.sub("", reference)
        if reference in self.by_full_url:
            return self.by_full_url[reference]
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return None
        restful = RESTFUL.match(reference)
        if restful is None:
            return None
        if restful.group("base") is not None:
            return None  # absolute, and no entry has that fullUrl
        if base_full_url:
            base = RESTFUL.match(base_full_url)
            if base is None or not base.group("base"):
                return None  # relative from a URN-identified entry: not resolvable
            return self.by_full_url.get(base.group("base") + reference)
        candidates = self.by_type_id.get(f"{restful.group('type')}/{restful.group('id')}", [])
        return candidates[0] if len(candidates) == 1 else None

    def same_type_id(self, reference: str) -> list[str]:
        """The fullUrls of entries whose resource has the reference's type and id."""
        restful = RESTFUL.match(_HISTORY.sub("", reference))
        if restful is None:
            return []
        found = self.by_type_id.get(f"{restful.group('type')}/{restful.group('id')}", [])
        urls = {id(r): u for u, r in self.by_full_url.items()}
        return [urls.get(id(r), "(no fullUrl)") for r in found]

    def resolve_any(self, value: Any, base_full_url: str | None = None) -> dict[str, Any] | None:
        """Resolve a Reference object or a reference string."""
        if isinstance(value, dict):
            value = value.get("reference")
        return self.resolve(value, base_full_url) if isinstance(value, str) else None
