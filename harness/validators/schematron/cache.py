"""On-disk cache of generated stylesheets, so Schematron -> XSLT runs once per schematron.

SaxonC-HE cannot export compiled stylesheets, so only the generated XSLT text (and the
catalogue the result reader needs) is cached; the Saxon compile happens once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.validators.schematron.catalogue import Catalogue

COMPILER_VERSION = "kcert-sch-3"  # 3: rule templates carry their gates


def default_cache_dir() -> Path:
    base = os.environ.get("KCERT_CACHE")
    return (Path(base) if base else Path.home() / ".kcert" / "cache") / "schematron"


def cache_key(
    sch_path: Path,
    phase: str | None,
    content_key: str | None,
    variant: str = "",
    leniency: frozenset[str] = frozenset(),
) -> str:
    # The absolute path is part of the key: the stylesheet embeds it as its base URI.
    parts = [
        COMPILER_VERSION,
        str(sch_path.resolve()),
        phase or "#DEFAULT",
        content_key or "",
        variant,
        ",".join(sorted(leniency)),
    ]
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()


Stamps = tuple[tuple[str, int, int], ...]  # (file, size, mtime in ns)


def stamps(files: tuple[str, ...]) -> Stamps:
    out = []
    for name in files:
        stat = Path(name).stat()
        out.append((name, stat.st_size, stat.st_mtime_ns))
    return tuple(out)


def unchanged(recorded: Stamps) -> bool:
    """Whether every file read for a stylesheet still has the size and mtime it had."""
    try:
        return stamps(tuple(name for name, _, _ in recorded)) == recorded
    except OSError:
        return False


@dataclass(frozen=True)
class CachedStylesheet:
    xslt: str
    catalogue: Catalogue
    files: Stamps


def load(cache_dir: Path, key: str, trust_key: bool) -> CachedStylesheet | None:
    """The cached entry, unless missing, unreadable, or (without a pack hash) a file changed."""
    meta_path, xsl_path = cache_dir / f"{key}.json", cache_dir / f"{key}.xsl"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        files: Stamps = tuple((str(n), int(size), int(mtime)) for n, size, mtime in meta["files"])
        if not trust_key and not unchanged(files):
            return None
        return CachedStylesheet(
            xsl_path.read_text(encoding="utf-8"), Catalogue.from_json(meta["catalogue"]), files
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(path: Path, text: str) -> None:
    # Write-then-rename: a parallel reader sees the old file or the new one, never half.
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def store(cache_dir: Path, key: str, entry: CachedStylesheet) -> None:
    """Best effort: a read-only or full disk only costs the next run a regeneration."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write(cache_dir / f"{key}.xsl", entry.xslt)
        meta = {"files": [list(f) for f in entry.files], "catalogue": entry.catalogue.to_json()}
        _write(cache_dir / f"{key}.json", json.dumps(meta))
    except OSError:
        pass


def _compiles_marker(cache_dir: Path, xslt: str) -> Path:
    from importlib.metadata import PackageNotFoundError, version

    try:
        saxon = version("saxonche")
    except PackageNotFoundError:
        saxon = "?"
    digest = hashlib.sha256(f"{COMPILER_VERSION}\x00{saxon}\x00{xslt}".encode()).hexdigest()
    return cache_dir / f"{digest}.compiles"


def known_to_compile(cache_dir: Path, xslt: str) -> bool:
    """Whether this exact stylesheet text has compiled whole with this Saxon before."""
    return _compiles_marker(cache_dir, xslt).is_file()


def mark_compiles(cache_dir: Path, xslt: str) -> None:
    """Best effort, like store(): without the marker the next process compiles whole again."""
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        _write(_compiles_marker(cache_dir, xslt), "")
    except OSError:
        pass
