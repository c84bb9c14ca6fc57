"""The test agent's read-back of HospitalNotification receive: `GET <agent>/hospital-stays`.

Apart from `hospitalnotification.py` so that reading the standard's declaration (its defects,
for the catalogue) does not load fastapi and pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from harness.reflps.hospitalnotification import HospitalNotifications, Stay


def stays_router(handler: HospitalNotifications, prefix: str) -> APIRouter:
    router = APIRouter()

    @router.get(f"{prefix}/hospital-stays", tags=["agent"])
    def hospital_stays(patientCpr: str = "") -> StayList:
        """Hospital stays the LPS shows, from the HospitalNotifications it received."""
        stays = handler.stays(patientCpr)
        return StayList(total=len(stays), stays=[_answer(s) for s in stays])

    return router


class NotificationEntry(BaseModel):
    model_config = ConfigDict(strict=True)
    messageHeaderId: str
    activity: str
    occurred: str
    receivedAt: str
    effect: str


class StayEntry(BaseModel):
    model_config = ConfigDict(strict=True)
    episodeOfCare: str
    patientCpr: str
    state: str
    encounterClass: str
    start: str
    end: str
    hospital: str
    notifications: list[NotificationEntry]


class StayList(BaseModel):
    model_config = ConfigDict(strict=True)
    total: int
    stays: list[StayEntry]


def _answer(stay: Stay) -> StayEntry:
    return StayEntry(
        episodeOfCare=stay.episode,
        patientCpr=stay.patient_cpr,
        state=stay.state,
        encounterClass=stay.encounter_class,
        start=stay.start,
        end=stay.end,
        hospital=stay.hospital,
        notifications=[
            NotificationEntry(
                messageHeaderId=n.header_id,
                activity=n.activity,
                occurred=n.occurred,
                receivedAt=n.received_at,
                effect=effect,
            )
            for n, effect in stay.notifications
        ],
    )
