"""MedCom TestScripts as connectathon scenarios: their origins and destinations become roles,
their setup, tests and teardown the steps.

A TestScript names its participants in `origin` (FHIR clients) and `destination` (FHIR
servers), and each operation says which origin sends to which destination. In MedCom's
TouchStone scripts the system under test is origin 1, a client, and TouchStone the server
(`Script.client_mode`); in a script without origins on its operations the SUT is the server.
The SUT's side becomes the role `lps`, played by a registered system; every other participant
a role kcert simulates (it plays TouchStone's part, so no system may play it). A step is one
block of the script (one test case of its protocol, `harness.testscript.protocol`), from the
sender to the receiver of its first operation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.connectathon.model import SIMULATED, ScenarioRole
from harness.connectathon.scenario.model import Scenario, ScenarioError, ScenarioStep
from harness.model.i18n import Text
from harness.testscript.protocol import case_ids, to_protocol
from harness.testscript.roles import outside_role
from harness.testscript.run import protocol_ids
from harness.testscript.script import Script, ScriptError, discover, load_script

SUT_ROLE = "lps"
MAX_SCRIPTS = 500


def testscript_scenarios(paths: list[Path]) -> list[Scenario]:
    """Every TestScript named or inside a named folder, as a scenario (ids unique)."""
    try:
        found = discover(paths)
    except ScriptError as exc:
        raise ScenarioError(str(paths[0]) if paths else "", 1, "", str(exc)) from None
    if len(found) > MAX_SCRIPTS:
        raise ScenarioError(str(paths[0]), 1, "", f"more than {MAX_SCRIPTS} TestScripts")
    scripts = []
    for path, root in found:
        try:
            scripts.append(load_script(path, root))
        except ScriptError as exc:
            raise ScenarioError(str(path), 1, "", str(exc)) from None
    return [
        testscript_scenario(s, pid) for s, pid in zip(scripts, protocol_ids(scripts), strict=True)
    ]


def testscript_scenario(script: Script, scenario_id: str | None = None) -> Scenario:
    """One TestScript as a scenario; one without origin or destination is not one."""
    scenario_id = scenario_id or script.id
    origins = _indexes(script, "origin")
    destinations = _indexes(script, "destination")
    if not origins or not destinations:
        raise ScenarioError(
            str(script.path),
            1,
            "origin" if not origins else "destination",
            "a TestScript is a scenario only when it names its origin and destination",
        )
    client = script.client_mode()
    sut_side, other_side = ("origin", "destination") if client else ("destination", "origin")
    sut_indexes = origins if client else destinations
    if len(sut_indexes) != 1:
        raise ScenarioError(
            str(script.path),
            1,
            sut_side,
            f"the system under test is the script's {sut_side}; it names "
            f"{len(sut_indexes)} of them, kcert drives one",
        )
    other = destinations if client else origins
    names = {
        (sut_side, sut_indexes[0]): SUT_ROLE,
        **{(other_side, i): _simulated_name(script, other_side, i, len(other) > 1) for i in other},
    }
    roles = (
        ScenarioRole(SUT_ROLE, simulated=False, systems_may_play=True),
        *(
            ScenarioRole(names[(other_side, i)], simulated=True, systems_may_play=False)
            for i in other
        ),
    )
    protocol = to_protocol(script, scenario_id)
    steps = []
    for seq, (case_id, (_, block)) in enumerate(
        zip(case_ids(script), script.blocks(), strict=True), 1
    ):
        sender, receiver = _parties(block, names, client)
        title = block.get("name") or block.get("description") or case_id
        steps.append(
            ScenarioStep(
                step_id=case_id,
                seq=seq,
                sender=sender,
                receiver=receiver,
                title=Text.of(str(title)),
                line=1,
                case_id=case_id,
                whole_case=True,
            )
        )
    description = str(script.data.get("description") or "")
    outside = outside_role(script)
    return Scenario(
        scenario_id=scenario_id,
        version=str(script.data.get("version", "")),
        title=Text.of(script.title),
        description=Text.of(f"{description} ({outside})" if outside else description),
        roles=roles,
        steps=tuple(steps),
        catches=(),
        file=str(script.path),
        sha256=script.sha256,
        protocol=protocol,
        script=script,
    )


def _indexes(script: Script, key: str) -> list[int]:
    found = []
    for entry in script.data.get(key, []) or []:
        if isinstance(entry, dict) and isinstance(entry.get("index"), int):
            found.append(int(entry["index"]))
    return sorted(set(found))


def _simulated_name(script: Script, side: str, index: int, several: bool) -> str:
    """`fhir-server` / `fhir-client` from the participant's profile, numbered when several."""
    code = ""
    for entry in script.data.get(side, []) or []:
        if isinstance(entry, dict) and entry.get("index") == index:
            code = str((entry.get("profile") or {}).get("code") or "")
    base = code.lower() if code.lower() in ("fhir-server", "fhir-client") else side
    return f"{base}-{index}" if several or base == side else base


def _parties(
    block: dict[str, Any], names: dict[tuple[str, int], str], client: bool
) -> tuple[str, str]:
    """The block's sender and receiver roles, from its first operation naming either end."""
    for action in block.get("action", []) or []:
        operation = action.get("operation") if isinstance(action, dict) else None
        if not isinstance(operation, dict):
            continue
        origin, destination = operation.get("origin"), operation.get("destination")
        if origin is None and destination is None:
            continue
        source = names.get(("origin", origin)) if isinstance(origin, int) else None
        target = names.get(("destination", destination)) if isinstance(destination, int) else None
        if client and source is None:
            # kcert's server side hands the SUT something (a message it then reads)
            return target or SIMULATED, SUT_ROLE
        return source or SIMULATED, target or SUT_ROLE
    return SIMULATED, SUT_ROLE
