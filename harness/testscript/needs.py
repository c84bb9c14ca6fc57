"""The fixture files a set of TestScripts needs and kcert cannot find: one list, each file
named once with the scripts that need it (instead of one error per setup).

A fixture only a SUT-initiated `create` names (`origin` set) is a template of what the SUT is
to send: kcert binds it to what the SUT sent and needs no file for it, so it is listed apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from harness.testscript.fixtures import FixtureError, FixtureMap, resolve
from harness.testscript.roles import outside_role
from harness.testscript.script import Script


@dataclass
class Missing:
    needed: dict[str, list[str]] = field(default_factory=dict)  # file name -> script ids
    templates: dict[str, list[str]] = field(default_factory=dict)
    outside: dict[str, list[str]] = field(default_factory=dict)  # of scripts outside the role

    def lines(self) -> list[str]:
        out = []
        if self.needed:
            out.append(
                f"fixtures not found ({len(self.needed)}; map them with --fixtures-map): "
                + ", ".join(f"{n} ({len(s)} script(s))" for n, s in sorted(self.needed.items()))
            )
        # each file once: needed beats template beats outside-the-role
        templates = sorted(set(self.templates) - set(self.needed))
        outside = sorted(set(self.outside) - set(self.needed) - set(self.templates))
        if outside:
            out.append(
                "fixtures not found, needed only by scripts outside the LPS role: "
                + ", ".join(outside)
            )
        if templates:
            out.append("templates of what the SUT sends, no file needed: " + ", ".join(templates))
        return out


def _operations(script: Script) -> list[dict[str, Any]]:
    ops = []
    for _, block in script.blocks():
        for action in block.get("action", []) or []:
            if isinstance(action, dict) and isinstance(action.get("operation"), dict):
                ops.append(action["operation"])
    return ops


def _templates(script: Script) -> set[str]:
    """Fixture ids named only as the body of something the SUT itself creates."""
    by_sut: set[str] = set()
    by_kcert: set[str] = set()
    for op in _operations(script):
        for key in ("sourceId", "targetId"):
            if isinstance(op.get(key), str):
                code = str((op.get("type") or {}).get("code") or "")
                sut_sends = "origin" in op and code == "create" and key == "sourceId"
                (by_sut if sut_sends else by_kcert).add(op[key])
    return by_sut - by_kcert


def missing_fixtures(scripts: list[Script], fixture_map: FixtureMap) -> Missing:
    found = Missing()
    for script in scripts:
        templates = _templates(script)
        for fixture in script.data.get("fixture", []) or []:
            if not isinstance(fixture, dict):
                continue
            reference = str((fixture.get("resource") or {}).get("reference") or "")
            if not reference or reference.startswith("#"):
                continue
            try:
                resolve(reference, script.path, script.root, fixture_map)
            except FixtureError:
                name = PurePosixPath(reference).name
                if outside_role(script):
                    target = found.outside
                elif fixture.get("id") in templates:
                    target = found.templates
                else:
                    target = found.needed
                target.setdefault(name, [])
                if script.id not in target[name]:
                    target[name].append(script.id)
    return found
