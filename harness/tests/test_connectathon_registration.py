"""Systems YAML: good files read into Systems; every kind of mistake at file:line, by field."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from harness.connectathon.registration import load_systems, sut_choice
from harness.fixtures import REPO_ROOT
from harness.session.sut import RegistrationError
from harness.yamlsource import SourceError

CONFIGURED = """\
- vendor: Vendor A/S
  product: Vendor LPS
  version: "7.2.1"
  roles: [lps]
  registration:
    configuration:
      name: Vendor LPS
      vendor: Vendor A/S
      version: "7.2.1"
      endpoints:
        fhir: http://127.0.0.1:8080/fhir
        agent: http://127.0.0.1:8080/kcert-agent/v1
      identity: {sor: "999991000016008", gln: "5790000999996"}
      auth: {type: none}
- vendor: kcert
  product: Reference LPS
  version: "1.0"
  roles: [lps, viewer]
  system_id: ref-lps
  registration:
    sut: reference
    defects: [no-resend]
"""


def _write(tmp_path: Path, text: str, name: str = "systems.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_list_of_systems(tmp_path: Path) -> None:
    first, second = load_systems(_write(tmp_path, CONFIGURED), "cx-1")
    assert (first.system_id, first.session_id, first.roles) == (
        "vendor-a-s-vendor-lps",
        "cx-1",
        ("lps",),
    )
    assert first.registration["configuration"]["name"] == "Vendor LPS"
    assert (second.system_id, second.roles) == ("ref-lps", ("lps", "viewer"))
    assert second.registration == {"sut": "reference", "defects": ["no-resend"]}


def test_one_system_as_a_mapping(tmp_path: Path) -> None:
    text = "vendor: V\nproduct: P\nversion: '1'\nroles: [lps]\nregistration: {sut: reference}\n"
    [system] = load_systems(_write(tmp_path, text), "cx-1")
    assert system.system_id == "v-p"


def _error(tmp_path: Path, text: str) -> SourceError:
    path = _write(tmp_path, text)
    with pytest.raises(SourceError) as err:
        load_systems(path, "cx-1")
    assert str(err.value).startswith(f"{path}:")
    return err.value


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ('  version: "7.2.1"\n  roles', "  roles", 1, "[0]", "missing required field"),
        ('  version: "7.2.1"\n  roles', "  version: 7.2\n  roles", 3, "[0].version", "not of type"),
        ("  roles: [lps]\n", "  roles: lps\n", 4, "[0].roles", "not of type 'array'"),
        ("  roles: [lps]\n", "  roles: [LPS!]\n", 4, "[0].roles[0]", "does not match"),
        ("  roles: [lps]\n", "  roles: [lps]\n  colour: blue\n", 5, "[0].colour", "unknown field"),
        (
            "      auth: {type: none}",
            "      auth: {type: bearer, token: abc, allow_plain_token: true}",
            14,
            "[0].registration.configuration.auth.token",
            "no plain token",
        ),
        (
            "      auth: {type: none}",
            "      auth: {type: mtls, cert: ../outside.pem, key: key.pem}",
            14,
            "[0].registration.configuration.auth.cert",
            "outside the registration's folder",
        ),
        (
            "      name: Vendor LPS\n",
            "",
            6,
            "[0].registration.configuration",
            "missing required field",
        ),
        (
            "    sut: reference\n",
            "    sut: reference\n    colour: red\n",
            22,
            "[1].registration.colour",
            "unknown field",
        ),
        (
            "defects: [no-resend]",
            "defects: [no-such-bug]",
            22,
            "[1].registration.defects",
            "unknown defect",
        ),
        ("  system_id: ref-lps\n", "  system_id: kcert\n", 19, "[1].system_id", "kcert's own name"),
        (
            "  system_id: ref-lps\n",
            "  system_id: vendor-a-s-vendor-lps\n",
            19,
            "[1].system_id",
            "registered twice",
        ),
    ],
)
def test_mistakes_are_named_at_their_line(
    tmp_path: Path, old: str, new: str, line: int, field: str, message: str
) -> None:
    assert old in CONFIGURED
    err = _error(tmp_path, CONFIGURED.replace(old, new, 1))
    assert (err.line, err.field) == (line, field), str(err)
    assert message in err.message, str(err)


def test_files_that_are_no_systems_file(tmp_path: Path) -> None:
    assert "file is empty" in str(_error(tmp_path, "\n"))
    assert "lists no system" in str(_error(tmp_path, "[]\n"))
    assert "a system (a mapping)" in str(_error(tmp_path, "just text\n"))
    syntax = _error(tmp_path, "- vendor: [unclosed\n")
    assert "YAML syntax" in syntax.message
    missing = tmp_path / "nope.yaml"
    with pytest.raises(SourceError, match="cannot read file"):
        load_systems(missing, "cx-1")


def test_a_registrations_files_are_found_in_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "vendor"
    folder.mkdir()
    (folder / "client.pem").write_text("certificate", encoding="utf-8")
    (folder / "client.key").write_text("key", encoding="utf-8")
    text = CONFIGURED.replace(
        "      auth: {type: none}", "      auth: {type: mtls, cert: client.pem, key: client.key}"
    )
    first, _ = load_systems(_write(folder, text), "cx-1")
    assert first.files == str(folder.resolve())
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # kcert runs the instance from another folder
    config = sut_choice(first).configured()
    assert (config.auth.cert, config.auth.key) == (
        str(folder.resolve() / "client.pem"),
        str(folder.resolve() / "client.key"),
    )
    without = dataclasses.replace(first, files="")
    with pytest.raises(RegistrationError, match=r"configuration\.auth"):
        sut_choice(without).configured()


def test_the_readmes_example_registers(tmp_path: Path) -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("```yaml\n", readme.index("A systems YAML registers")) + len("```yaml\n")
    example = readme[start : readme.index("```", start)]
    (tmp_path / "client.pem").write_text("certificate", encoding="utf-8")
    (tmp_path / "client.key").write_text("key", encoding="utf-8")
    [system] = load_systems(_write(tmp_path, example), "cx-1")
    assert (system.system_id, system.roles) == ("eksempel-lps", ("lps",))
