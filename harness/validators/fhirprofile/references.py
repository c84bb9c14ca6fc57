"""Resolve references between the entries of one Bundle (fullUrl, `Type/id`, `urn:uuid:`)."""

from __future__ import annotations

import re
from typing import Any

# A RESTful fullUrl: [base]/Type/id, the base being what relative references resolve against.
_RESTFUL = re.compile(r"^(?P<base>.*/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})$")
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
        """The entry resource a reference points to, or None when it is not in the Bundle."""
        reference = _HISTORY.sub("", reference)
        if reference in self.by_full_url:
            return self.by_full_url[reference]
        if reference.startswith(("urn:uuid:", "urn:oid:")):
            return None
        restful = _RESTFUL.match(reference)
        if restful is None:
            return None
        if restful.group("base") is None and base_full_url:
            # relative: resolves against the base of the referring entry's RESTful fullUrl
            base = _RESTFUL.match(base_full_url)
            if base is not None and base.group("base"):
                absolute = base.group("base") + reference
                if absolute in self.by_full_url:
                    return self.by_full_url[absolute]
        # fall back to type and id when that names exactly one entry
        candidates = self.by_type_id.get(f"{restful.group('type')}/{restful.group('id')}", [])
        return candidates[0] if len(candidates) == 1 else None

    def resolve_any(self, value: Any, base_full_url: str | None = None) -> dict[str, Any] | None:
        """Resolve a Reference object or a reference string."""
        if isinstance(value, dict):
            value = value.get("reference")
        return self.resolve(value, base_full_url) if isinstance(value, str) else None
