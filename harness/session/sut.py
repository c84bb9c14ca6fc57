"""The SUT a session tests: one model, one constructor path, one validation, one row codec.

Every front door builds its `SutChoice` here:

- `from_options`: the CLI's arguments and the pytest plugin's options (they name the same
  four things; only the spelling of the options differs, `CLI_NAMES`/`PYTEST_NAMES`);
- `from_stored`: the run row's `choice` (resume, answer), the inverse of `to_stored`;
- `from_registration`: a connectathon registration as a registration service receives it, a
  plain mapping (`REGISTRATION_KEYS`), the SUT configuration inline.

The one validation: exactly one SUT, defects and the in-process transport only with the
reference LPS, known defect names; for a configured SUT its configuration read the one way
(`harness.sut.config.sut_config_from`) with its credentials checked (the token's variable is
set, certificate, key and CA files are readable, a plain token only with allow_plain_token),
without opening a transport. Errors name the field as the source spells it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.reflps.defects import UnknownDefect, check_names
from harness.sut.config import SutConfig, load_sut_config, sut_config_from
from harness.yamlsource import SourceError, YamlDocument

TRANSPORTS = ("http", "inprocess")
FIELDS = ("sut", "config_file", "defects", "transport")
CLI_NAMES: Mapping[str, str] = {
    "sut": "--sut",
    "config_file": "--sut-config",
    "defects": "--defect",
    "transport": "--transport",
}
PYTEST_NAMES: Mapping[str, str] = {**CLI_NAMES, "transport": "--kcert-transport"}
STORED_NAMES: Mapping[str, str] = {
    **{name: f"choice.{name}" for name in FIELDS},
    "sut": "choice.reference",
}
REGISTRATION_NAMES: Mapping[str, str] = {**{n: n for n in FIELDS}, "config_file": "configuration"}
# What a registration may hold: `sut: reference` (with `defects`, `transport`) or
# `configuration:` (the SUT configuration's fields, as in a --sut-config file).
REGISTRATION_KEYS = ("sut", "defects", "transport", "configuration")
REGISTRATION = "registration"


class SutChoiceError(ValueError):
    """The SUT is named wrongly; `field` is the field (as its source spells it) at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RegistrationError(SutChoiceError):
    """A registration cannot be used; the text begins with the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, f"registration field {field}: {message}" if field else message)


@dataclass(frozen=True)
class SutChoice:
    """Which SUT to test: the embedded reference LPS (with defects), a configuration file, or
    a registration's inline configuration (`configuration`, paths in it under `files`)."""

    reference: bool = False
    config_file: Path | None = None
    defects: tuple[str, ...] = ()
    transport: str = "http"
    configuration: Mapping[str, Any] | None = field(default=None, repr=False)
    files: Path | None = None

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def from_options(
        cls,
        sut: str | None,
        config_file: Path | None,
        defects: tuple[str, ...] | list[str] = (),
        transport: str = "http",
        *,
        names: Mapping[str, str] = CLI_NAMES,
        credentials: bool = True,
    ) -> SutChoice:
        """From the CLI's or pytest's options; checks everything a run will need (a
        configuration file is read and its credentials checked) before anything starts."""
        if sut not in (None, "", "reference"):
            raise SutChoiceError(names["sut"], f"{names['sut']} takes only 'reference'")
        choice = cls(
            reference=sut == "reference",
            config_file=config_file,
            defects=tuple(defects),
            transport=transport,
        )
        choice._check(names)
        if credentials and not choice.reference:
            choice.configured(credentials=True)
        return choice

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> SutChoice:
        """From a run row's `choice` (what `to_stored` wrote); what is missing is a default."""
        config = data.get("config_file")
        inline = data.get("configuration")
        files = data.get("files")
        defects = data.get("defects") or []
        choice = cls(
            reference=bool(data.get("reference")),
            config_file=Path(str(config)) if config else None,
            defects=tuple(str(d) for d in defects) if isinstance(defects, list) else (),
            transport=str(data.get("transport") or "http"),
            configuration=dict(inline) if isinstance(inline, Mapping) else None,
            files=Path(str(files)) if files else None,
        )
        choice._check(STORED_NAMES)
        return choice

    @classmethod
    def from_registration(cls, data: Any, files: Path | None = None) -> SutChoice:
        """From a connectathon registration (a plain mapping): `sut: reference` with optional
        `defects` and `transport`, or `configuration:` the SUT configuration inline, whose
        relative certificate paths are under `files` (default: the working directory).
        Everything is checked now, the credentials included; errors name the field."""
        if not isinstance(data, Mapping):
            raise RegistrationError("", "a registration is a mapping of fields")
        unknown = sorted(str(k) for k in data if k not in REGISTRATION_KEYS)
        if unknown:
            raise RegistrationError(
                unknown[0], f"unknown field; a registration has {', '.join(REGISTRATION_KEYS)}"
            )
        sut = data.get("sut")
        if sut is not None and sut != "reference":
            raise RegistrationError("sut", f"{sut!r}: only 'reference' is named here")
        defects = data.get("defects", [])
        if not isinstance(defects, list) or not all(isinstance(d, str) for d in defects):
            raise RegistrationError("defects", "a list of defect names")
        transport = data.get("transport", "http")
        if not isinstance(transport, str):
            raise RegistrationError("transport", f"one of {', '.join(TRANSPORTS)}")
        inline = data.get("configuration")
        if inline is not None and not isinstance(inline, Mapping):
            raise RegistrationError("configuration", "the SUT configuration, a mapping")
        choice = cls(
            reference=sut == "reference",
            defects=tuple(defects),
            transport=transport,
            configuration=dict(inline) if inline is not None else None,
            files=(files or Path.cwd()) if inline is not None else None,
        )
        try:
            choice._check(REGISTRATION_NAMES)
        except SutChoiceError as exc:
            raise RegistrationError(exc.field, exc.message) from None
        if inline is not None:
            _confined(choice.configuration or {}, choice.files or Path.cwd())
            choice.configured(credentials=True)
        return choice

    # -- the one validation ----------------------------------------------------------------

    def validate(self) -> None:
        """The checks that need no file (as the CLI spells its options)."""
        self._check(CLI_NAMES)

    def _check(self, names: Mapping[str, str]) -> None:
        configured = self.config_file is not None or self.configuration is not None
        if self.reference == configured or (self.config_file and self.configuration):
            raise SutChoiceError(
                names["sut"],
                f"name exactly one SUT: {names['sut']} reference or {names['config_file']} FILE",
            )
        if self.defects and not self.reference:
            raise SutChoiceError(
                names["defects"], f"{names['defects']} works only with {names['sut']} reference"
            )
        try:
            check_names(self.defects)
        except UnknownDefect as exc:
            raise SutChoiceError(names["defects"], str(exc)) from None
        if self.transport not in TRANSPORTS:
            raise SutChoiceError(
                names["transport"],
                f"{names['transport']} {self.transport!r}: one of {', '.join(TRANSPORTS)}",
            )
        if self.transport == "inprocess" and not self.reference:
            raise SutChoiceError(
                names["transport"],
                f"{names['transport']} inprocess works only with {names['sut']} reference",
            )

    def configured(self, *, credentials: bool = True) -> SutConfig:
        """The configured SUT's configuration, read the one way (file:line errors for a file,
        field-named `RegistrationError`s for a registration); `credentials` as a run needs."""
        if self.config_file is not None:
            return load_sut_config(self.config_file, credentials=credentials)
        if self.configuration is None:
            raise SutChoiceError("sut", "the reference LPS has no configuration to read")
        doc = YamlDocument(REGISTRATION, dict(self.configuration), {})
        try:
            return sut_config_from(doc, self.files or Path.cwd(), credentials=credentials)
        except SourceError as exc:
            where = f"configuration.{exc.field}" if exc.field else "configuration"
            raise RegistrationError(where, exc.message) from None

    # -- the store row ---------------------------------------------------------------------

    def to_stored(self) -> dict[str, Any]:
        """The run row's `choice`: enough to reach the same SUT again (never a token)."""
        row: dict[str, Any] = {
            "reference": self.reference,
            "config_file": str(self.config_file.resolve()) if self.config_file else None,
            "defects": list(self.defects),
            "transport": self.transport,
        }
        if self.configuration is not None:
            row["configuration"] = _without_token(self.configuration)
            row["files"] = str(self.files.resolve()) if self.files else None
        return row

    def describe(self) -> str:
        """One line for a header: which SUT, with which defects, over what."""
        target = (
            "reference LPS"
            if self.reference
            else str(self.config_file or f"registered {self.configuration_name}")
        )
        defects = f" with defects {', '.join(self.defects)}" if self.defects else ""
        return f"{target}{defects} ({self.transport})"

    @property
    def configuration_name(self) -> str:
        return str((self.configuration or {}).get("name", ""))


# The fields of a configuration that name files or folders on kcert's machine.
PATH_FIELDS: tuple[tuple[str, ...], ...] = (
    ("auth", "cert"),
    ("auth", "key"),
    ("tls", "verify"),
    ("peer", "tls", "cert"),
    ("peer", "tls", "key"),
    ("peer", "tls", "client_ca"),
    ("manual", "exports"),
)


def _confined(configuration: Mapping[str, Any], files: Path) -> None:
    """A registration comes from outside: the files it names must lie in its own folder,
    never elsewhere on kcert's machine (an absolute path, `..`, a link out of it)."""
    root = files.resolve()
    for path in PATH_FIELDS:
        value: Any = configuration
        for part in path:
            value = value.get(part) if isinstance(value, Mapping) else None
        if not isinstance(value, str):
            continue  # absent, or tls.verify true/false
        where = "configuration." + ".".join(path)
        if Path(value).is_absolute() or not (root / value).resolve().is_relative_to(root):
            raise RegistrationError(
                where, f"{value!r} is outside the registration's folder: name a file in it"
            )


def _without_token(configuration: Mapping[str, Any]) -> dict[str, Any]:
    """A plain token is allowed only knowingly, and never kept in the run store."""
    stored = dict(configuration)
    auth = stored.get("auth")
    if isinstance(auth, Mapping) and "token" in auth:
        stored["auth"] = {k: v for k, v in auth.items() if k != "token"}
    return stored
