"""What the LPS role (a general-practice system) does with MedCom's messages, and so which
TestScripts test something it does not do.

A script is outside the role when it has the SUT receive a message standard a general
practice neither receives nor answers; kcert then runs none of its tests and says why, instead
of reporting errors about fixtures or operations that could not mean anything for an LPS.
The script's fixtures tell: their file names (MedCom's fixture names start with the standard)
or, when a fixture can be read, its MessageHeader event.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from harness.testscript.script import Script

# standard (as MedCom names fixtures) -> (message event, why the LPS role does not have it)
OUTSIDE_LPS_ROLE = {
    "HospitalNotification": (
        "hospital-notification-message",
        "a HospitalNotification goes from the hospital to the patient's municipality (home "
        "care); a general practice neither receives nor acknowledges it",
    ),
}


def outside_role(script: Script) -> str:
    """Why the script is outside the LPS role, or "" when it is not."""
    for fixture in script.data.get("fixture", []) or []:
        if not isinstance(fixture, dict):
            continue
        reference = str((fixture.get("resource") or {}).get("reference") or "")
        name = PurePosixPath(reference).name
        for standard, (event, why) in OUTSIDE_LPS_ROLE.items():
            if name.startswith(standard):
                return (
                    f"not in the LPS role: the script has the SUT receive {event} (fixture "
                    f"{fixture.get('id')}: {name}); {why}"
                )
    return ""
