"""Build population Bundles in the documented format (used by the generator and by tests)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from harness.population.model import (
    ATC,
    CLINIC_TAG,
    CPR,
    EVENT,
    ICPC2,
    INSURANCE,
    MCS,
    NPU,
    REGISTER_UPDATED,
    SERVICE,
    SKS,
    SOR,
    STARTBACK,
)

CODE_SYSTEM = {"icpc2": ICPC2, "sks": SKS}
OBSERVATION = {
    "bp": (NPU, "DNK05472", "mmHg"),
    "egfr": (NPU, "DNK35302", "mL/min/1.73m2"),
    "mrc": (MCS, "MCS88021", ""),
    "cat": (MCS, "MCS88137", ""),
    "exacerbation": (EVENT, "kol-exacerbation-moderate", ""),
    "hospitalisation": (EVENT, "kol-hospitalisation", ""),
}


class BundleBuilder:
    """Appends transaction entries; ids come from the caller so output is reproducible."""

    def __init__(self, new_id: Callable[[], str]) -> None:
        self.new_id = new_id
        self.entries: list[dict[str, Any]] = []

    def _add(self, resource: dict[str, Any]) -> str:
        full_url = f"urn:uuid:{self.new_id()}"
        self.entries.append(
            {
                "fullUrl": full_url,
                "resource": resource,
                "request": {"method": "POST", "url": resource["resourceType"]},
            }
        )
        return full_url

    def organization(
        self, sor: str, name: str, own: bool, register_updated: dt.date | None = None
    ) -> str:
        resource: dict[str, Any] = {
            "resourceType": "Organization",
            "identifier": [{"system": SOR, "value": sor}],
            "name": name,
        }
        if register_updated is not None:
            resource["extension"] = [
                {"url": REGISTER_UPDATED, "valueDate": register_updated.isoformat()}
            ]
        if own:
            resource["meta"] = {"tag": [{"system": CLINIC_TAG, "code": "own-clinic"}]}
        return self._add(resource)

    def patient(
        self,
        cpr: str,
        given: str,
        family: str,
        gender: str,
        birth: dt.date,
        gp: str,
        insurance_group: int = 1,
        active: bool = True,
        deceased: dt.date | None = None,
    ) -> str:
        resource: dict[str, Any] = {
            "resourceType": "Patient",
            "extension": [{"url": INSURANCE, "valueInteger": insurance_group}],
            "identifier": [{"system": CPR, "value": cpr}],
            "active": active,
            "name": [{"family": family, "given": [given]}],
            "gender": gender,
            "birthDate": birth.isoformat(),
            "generalPractitioner": [{"reference": gp}],
        }
        if deceased is not None:
            resource["deceasedDateTime"] = deceased.isoformat()
        return self._add(resource)

    def condition(
        self,
        patient: str,
        code: str,
        system: str = "icpc2",
        status: str = "active",
        recorded: dt.date | None = None,
    ) -> str:
        resource: dict[str, Any] = {
            "resourceType": "Condition",
            "clinicalStatus": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                        "code": status,
                    }
                ]
            },
            "code": {"coding": [{"system": CODE_SYSTEM[system], "code": code}]},
            "subject": {"reference": patient},
        }
        if recorded is not None:
            resource["recordedDate"] = recorded.isoformat()
        return self._add(resource)

    def observation(
        self, patient: str, kind: str, day: dt.date, value: float | str | None = None
    ) -> str:
        system, code, unit = OBSERVATION[kind]
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "status": "final",
            "code": {"coding": [{"system": system, "code": code}]},
            "subject": {"reference": patient},
            "effectiveDateTime": day.isoformat(),
        }
        if isinstance(value, str):
            resource["valueString"] = value
        elif isinstance(value, int) and kind in ("mrc", "cat"):
            resource["valueInteger"] = value
        elif value is not None:
            resource["valueQuantity"] = {"value": value, "unit": unit}
        return self._add(resource)

    def medication(
        self,
        patient: str,
        atc: str,
        start: dt.date,
        status: str = "active",
        end: dt.date | None = None,
        display: str = "",
    ) -> str:
        coding: dict[str, Any] = {"system": ATC, "code": atc}
        if display:
            coding["display"] = display
        period: dict[str, Any] = {"start": start.isoformat()}
        if end is not None:
            period["end"] = end.isoformat()
        return self._add(
            {
                "resourceType": "MedicationStatement",
                "status": status,
                "medicationCodeableConcept": {"coding": [coding]},
                "subject": {"reference": patient},
                "effectivePeriod": period,
            }
        )

    def service(self, patient: str, code: str, day: dt.date) -> str:
        return self._add(
            {
                "resourceType": "ChargeItem",
                "status": "billed",
                "code": {"coding": [{"system": SERVICE, "code": code}]},
                "subject": {"reference": patient},
                "occurrenceDateTime": day.isoformat(),
            }
        )

    def encounter(self, patient: str, reason: str, day: dt.date) -> str:
        return self._add(
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                },
                "subject": {"reference": patient},
                "reasonCode": [{"coding": [{"system": ICPC2, "code": reason}]}],
                "period": {"start": day.isoformat()},
            }
        )

    def startback(self, patient: str, yes: set[int], day: dt.date, items: int = 9) -> str:
        return self._add(
            {
                "resourceType": "QuestionnaireResponse",
                "questionnaire": STARTBACK,
                "status": "completed",
                "subject": {"reference": patient},
                "authored": day.isoformat(),
                "item": [
                    {"linkId": str(n), "answer": [{"valueBoolean": n in yes}]}
                    for n in range(1, items + 1)
                ],
            }
        )

    def bundle(self, timestamp: dt.date | None = None) -> dict[str, Any]:
        bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "transaction"}
        if timestamp is not None:
            bundle["timestamp"] = f"{timestamp.isoformat()}T00:00:00Z"
        bundle["entry"] = self.entries
        return bundle
