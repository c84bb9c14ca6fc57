"""MedCom HospitalNotification ("advis om sygehusophold") received by the reference LPS.

A hospital tells the receiver that a patient arrived (acute ambulant or admitted), went on or
came back from leave, went home or died, and cancels or corrects what it said earlier. The
receiver keeps each stay (the Encounter's episode-of-care identifier) with the notifications it
was told, and shows the state they add up to.

Receiver role. In MedCom's own use the receiver is the citizen's home municipality; kcert's
protocol has the LPS (a general practice) receive it. The role is a named parameter
(`RECEIVER_ROLE`): it decides only which citizens' notifications are relevant (MedCom's "citizen
without relevant cases"). For a general practice these are the patients on its list; a
notification about anyone else is acknowledged ok and neither loaded nor shown.

How a stay's state is read (the reference LPS's own rules):
- the notifications count in the order their events happened (their own Provenance's
  occurredDateTime), not the order they arrived: one that arrives after a later event of the
  same stay is kept as history and leaves the state as it is;
- a cancellation (cancel-…) takes back the notification its Provenance removes (entity role
  `removal`), else the latest one of the activity it names; a correction (revise-…) counts in
  place of the one it corrects;
- the state is that of the latest notification still counting: admitted, acute-ambulant,
  on-leave, discharged, deceased (Patient.deceased true), or `cancelled` when none is left.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness.reflps.identity import ClinicIdentity
from harness.reflps.messaging import Problem, Received
from harness.reflps.standards import ReceivedStandard
from harness.reflps.storage import Storage, utc_now

if TYPE_CHECKING:
    from fastapi import APIRouter

EVENT = "hospital-notification-message"
ACTIVITY_SYSTEM = "http://medcomfhir.dk/ig/terminology/CodeSystem/medcom-messaging-activityCodes"
CPR_SYSTEM = "urn:oid:1.2.208.176.1.2"

# Who receives, and which citizens that makes relevant. MedCom's own receiver, the municipality,
# loads notifications about citizens with an active case under the Social Services Act; the
# reference LPS plays only the general practice, whose relevant citizens are its listed patients.
RECEIVER_ROLES = {"general-practice": "the patients on the clinic's list"}
RECEIVER_ROLE = "general-practice"
# The clinic's list: the synthetic test persons kcert's protocols use (MedCom's receive protocol
# likewise has the vendor create its test persons in the system under test before the test).
LISTED_PATIENTS = frozenset({"0503559912", "1208489931", "2301749945"})

# activity (without revise-/cancel-) -> the state it puts the stay in
STATE_OF = {
    "admit-emergency": "acute-ambulant",
    "admit-inpatient": "admitted",
    "start-leave-inpatient": "on-leave",
    "end-leave-inpatient": "admitted",
    "discharge-inpatient-home": "discharged",
    "discharge-emergency-home": "discharged",
}
ACTIVITIES = frozenset(
    {*STATE_OF, *(f"revise-{a}" for a in STATE_OF), *(f"cancel-{a}" for a in STATE_OF)}
)
ENCOUNTER_CLASSES = frozenset({"IMP", "EMER"})  # v3 ActCode: inpatient, emergency
ENCOUNTER_STATUSES = frozenset({"in-progress", "onleave", "finished", "entered-in-error"})

DEFECTS = (
    (
        "hn-cancel-ignored",
        "En annullering af et advis kvitteres, men det annullerede advis tæller stadig.",
        "A cancellation is acknowledged, but the notification it cancels still counts.",
    ),
    (
        "hn-out-of-order-applied",
        "Adviser tæller i den rækkefølge, de ankommer, ikke efter hændelsens tidspunkt.",
        "Notifications count in the order they arrive, not by when their event happened.",
    ),
    (
        "hn-invalid-class-accepted",
        "Et advis med ugyldig Encounter.class kvitteres positivt (ok).",
        "A notification with an invalid Encounter.class is acknowledged ok.",
    ),
    (
        "hn-unlisted-shown",
        "Adviser om borgere, klinikken ikke har på sin liste, indlæses og vises.",
        "Notifications about citizens not on the clinic's list are loaded and shown.",
    ),
    (
        "hn-leave-ignored",
        "Start på orlov ændrer ikke opholdets status (patienten står stadig som indlagt).",
        "A start of leave does not change the stay (the patient is still shown as admitted).",
    ),
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hospital_notification (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    patient_cpr TEXT NOT NULL,
    episode TEXT NOT NULL,
    header_id TEXT NOT NULL,
    provenance_id TEXT NOT NULL,
    activity TEXT NOT NULL,
    occurred TEXT NOT NULL,
    received_at TEXT NOT NULL,
    deceased INTEGER NOT NULL,
    encounter_class TEXT NOT NULL,
    start TEXT NOT NULL,
    end_time TEXT NOT NULL,
    hospital TEXT NOT NULL,
    refers_to TEXT NOT NULL
);
"""
_COLUMNS = (
    "seq, patient_cpr, episode, header_id, provenance_id, activity, occurred, received_at,"
    " deceased, encounter_class, start, end_time, hospital, refers_to"
)
MAX_STAYS = 1000  # bounds one agent answer
MAX_ROWS = 20000  # and the notifications read for it


@dataclass(frozen=True)
class Notification:
    seq: int
    patient_cpr: str
    episode: str
    header_id: str
    provenance_id: str
    activity: str
    occurred: str
    received_at: str
    deceased: bool
    encounter_class: str
    start: str
    end: str
    hospital: str
    refers_to: str  # the Provenance id its own Provenance revises or removes

    @property
    def base(self) -> str:
        return self.activity.removeprefix("revise-").removeprefix("cancel-")

    @property
    def cancels(self) -> bool:
        return self.activity.startswith("cancel-")

    @property
    def revises(self) -> bool:
        return self.activity.startswith("revise-")


@dataclass(frozen=True)
class Stay:
    episode: str
    patient_cpr: str
    state: str
    encounter_class: str
    start: str
    end: str
    hospital: str
    notifications: tuple[tuple[Notification, str], ...]  # (notification, its effect)


def _when(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _identifier(resource: dict[str, Any] | None, system: str) -> str:
    for ident in (resource or {}).get("identifier", []) or []:
        if isinstance(ident, dict) and ident.get("system") == system:
            return str(ident.get("value", ""))
    return ""


def own_provenance(msg: Received) -> dict[str, Any] | None:
    """The Provenance of this notification (the one whose target is its MessageHeader); the
    others in the Bundle are the stay's history, carried along."""
    header_ref = f"MessageHeader/{msg.header['id']}"
    for prov in msg.of_type("Provenance"):
        targets = [t.get("reference") for t in prov.get("target", []) if isinstance(t, dict)]
        if header_ref in targets:
            return prov
    return None


def encounter_of(msg: Received) -> dict[str, Any] | None:
    focus = msg.header.get("focus") or []
    found = msg.resolve(focus[0]) if isinstance(focus, list) and focus else None
    return found if isinstance(found, dict) and found.get("resourceType") == "Encounter" else None


def episode_of(encounter: dict[str, Any]) -> str:
    for episode in encounter.get("episodeOfCare", []) or []:
        ident = episode.get("identifier") if isinstance(episode, dict) else None
        if isinstance(ident, dict) and ident.get("value"):
            return str(ident["value"])
    return ""


def _activity(prov: dict[str, Any]) -> str:
    for coding in (prov.get("activity") or {}).get("coding", []) or []:
        if isinstance(coding, dict) and coding.get("system") == ACTIVITY_SYSTEM:
            return str(coding.get("code", ""))
    return ""


def _refers_to(prov: dict[str, Any]) -> str:
    for entity in prov.get("entity", []) or []:
        what = (entity.get("what") or {}).get("reference") if isinstance(entity, dict) else None
        if isinstance(what, str) and what.startswith("Provenance/"):
            return what.removeprefix("Provenance/")
    return ""


def find_problems(msg: Received, defects: frozenset[str]) -> list[Problem]:
    """HospitalNotification's own rules (the shared ones ran before)."""
    encounter = encounter_of(msg)
    if encounter is None:
        return [
            Problem(
                "",
                "MessageHeader.focus does not reference an Encounter in the message",
                "Bundle.entry[0].resource.focus",
                "required",
            )
        ]
    problems: list[Problem] = []
    code = str((encounter.get("class") or {}).get("code", ""))
    if code not in ENCOUNTER_CLASSES and "hn-invalid-class-accepted" not in defects:
        problems.append(
            Problem(
                "MSG_VALUESET_VALUE_UNKNOWN",
                f"Encounter.class {code or '(none)'} is neither inpatient (IMP) nor emergency "
                "(EMER)",
                "Bundle.entry.resource.ofType(Encounter).class",
                "code-invalid",
            )
        )
    if encounter.get("status") not in ENCOUNTER_STATUSES:
        problems.append(
            Problem(
                "MSG_VALUESET_VALUE_UNKNOWN",
                f"Encounter.status {encounter.get('status')!r} is not a HospitalNotification "
                "status",
                "Bundle.entry.resource.ofType(Encounter).status",
                "code-invalid",
            )
        )
    if not episode_of(encounter):
        problems.append(
            Problem(
                "",
                "the Encounter has no episode-of-care identifier (the stay it belongs to)",
                "Bundle.entry.resource.ofType(Encounter).episodeOfCare.identifier",
                "required",
            )
        )
    start = (encounter.get("period") or {}).get("start")
    if not isinstance(start, str) or not _is_time(start):
        problems.append(
            Problem(
                "",
                f"the Encounter has no period.start with a date (when the stay began): {start!r}",
                "Bundle.entry.resource.ofType(Encounter).period.start",
                "required",
            )
        )
    prov = own_provenance(msg) or {}
    occurred = prov.get("occurredDateTime")
    if not isinstance(occurred, str) or not _is_time(occurred):
        problems.append(
            Problem(
                "",
                "the notification's Provenance has no occurredDateTime with a date (when its "
                f"event happened): {occurred!r}",
                "Bundle.entry.resource.ofType(Provenance).occurredDateTime",
                "required",
            )
        )
    return problems


def _sort_time(text: str) -> dt.datetime:
    """When a stored notification's event happened; one kept without a usable time (only a
    defect lets such a one in) sorts first rather than breaking the stay."""
    try:
        return _when(text)
    except ValueError:
        return dt.datetime.min.replace(tzinfo=dt.UTC)


def _is_time(text: str) -> bool:
    try:
        _when(text)
    except ValueError:
        return False
    return True


def effects(notes: list[Notification], defects: frozenset[str]) -> tuple[str, dict[int, str]]:
    """The state of one stay and what each of its notifications did (by seq)."""
    effect: dict[int, str] = {}
    order: dict[int, tuple[dt.datetime, int]] = {}
    by_provenance = {n.provenance_id: n for n in notes}
    for n in notes:  # in order of arrival
        order[n.seq] = (_sort_time(n.occurred), n.seq)
        if n.cancels or n.revises:
            target = by_provenance.get(n.refers_to)
            if target is None or target.seq >= n.seq or effect.get(target.seq) != "applied":
                # by activity: the latest notification of the activity it names still counting
                named = [
                    m
                    for m in notes
                    if m.seq < n.seq and m.activity == n.base and effect.get(m.seq) == "applied"
                ]
                target = named[-1] if named else None
            if n.cancels:
                effect[n.seq] = "cancellation"
                if target is not None and "hn-cancel-ignored" not in defects:
                    effect[target.seq] = "cancelled"
                continue
            if target is not None:
                effect[target.seq] = "revised"
                order[n.seq] = order[target.seq]  # a correction counts where the original did
        effect[n.seq] = "applied"
    counting = [n for n in notes if effect[n.seq] == "applied"]
    for n in counting if "hn-out-of-order-applied" not in defects else ():
        # a correction takes the place of what it corrects: never late itself
        if not n.revises and any(m.seq < n.seq and order[m.seq] > order[n.seq] for m in counting):
            effect[n.seq] = "out-of-order"
    if not counting:
        return "cancelled", effect
    if "hn-out-of-order-applied" in defects:
        latest = counting[-1]
    else:
        latest = max(counting, key=lambda n: order[n.seq])
    return _state(latest, defects), effect


def _state(n: Notification, defects: frozenset[str]) -> str:
    if n.deceased:
        return "deceased"
    state = STATE_OF.get(n.base, "admitted")
    if state == "on-leave" and "hn-leave-ignored" in defects:
        return "admitted"
    return state


def _notification(row: tuple[Any, ...]) -> Notification:
    text = [str(v) for v in row]
    return Notification(
        seq=int(row[0]),
        patient_cpr=text[1],
        episode=text[2],
        header_id=text[3],
        provenance_id=text[4],
        activity=text[5],
        occurred=text[6],
        received_at=text[7],
        deceased=row[8] == 1,
        encounter_class=text[9],
        start=text[10],
        end=text[11],
        hospital=text[12],
        refers_to=text[13],
    )


class HospitalNotifications:
    """The handler: takes notifications in, keeps the stays, answers the test agent."""

    def __init__(
        self,
        storage: Storage,
        me: ClinicIdentity,
        defects: frozenset[str],
        role: str = RECEIVER_ROLE,
    ) -> None:
        if role not in RECEIVER_ROLES:
            known = ", ".join(sorted(RECEIVER_ROLES))
            raise ValueError(f"receiver role {role!r} is not played here; known: {known}")
        self._db: sqlite3.Connection = storage.connection
        self._lock: threading.Lock = storage.lock
        self.me = me
        self.defects = defects
        self.role = role
        with self._lock:
            self._db.executescript(_SCHEMA)

    def problems(self, msg: Received) -> list[Problem]:
        return find_problems(msg, self.defects)

    def relevant(self, cpr: str) -> bool:
        """Whether this receiver loads notifications about the citizen (see RECEIVER_ROLE)."""
        return cpr in LISTED_PATIENTS or "hn-unlisted-shown" in self.defects

    def accept(self, msg: Received) -> bool:
        patients = msg.of_type("Patient")
        cpr = _identifier(patients[0] if patients else None, CPR_SYSTEM)
        if not self.relevant(cpr):
            return False  # acknowledged ok, neither loaded nor shown
        encounter = encounter_of(msg) or {}
        prov = own_provenance(msg) or {}
        period = encounter.get("period") or {}
        provider = msg.resolve(encounter.get("serviceProvider")) or {}
        deceased = any(p.get("deceasedBoolean") is True for p in patients)
        with self._lock:
            self._db.execute(
                "INSERT INTO hospital_notification(patient_cpr, episode, header_id,"
                " provenance_id, activity, occurred, received_at, deceased, encounter_class,"
                " start, end_time, hospital, refers_to) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    cpr,
                    episode_of(encounter),
                    str(msg.header["id"]),
                    str(prov.get("id", "")),
                    _activity(prov),
                    str(prov.get("occurredDateTime", "")),
                    utc_now(),
                    int(deceased),
                    str((encounter.get("class") or {}).get("code", "")),
                    str(period.get("start", "")),
                    str(period.get("end", "")),
                    str(provider.get("name", "")),
                    _refers_to(prov),
                ),
            )
        return True

    def stays(self, patient_cpr: str = "") -> list[Stay]:
        query = f"SELECT {_COLUMNS} FROM hospital_notification"
        args: tuple[str, ...] = ()
        if patient_cpr:
            query += " WHERE patient_cpr=?"
            args = (patient_cpr,)
        with self._lock:
            rows = self._db.execute(query + f" ORDER BY seq LIMIT {MAX_ROWS}", args).fetchall()
        grouped: dict[tuple[str, str], list[Notification]] = {}
        for row in rows:
            note = _notification(row)
            grouped.setdefault((note.patient_cpr, note.episode), []).append(note)
        found = []
        for (cpr, episode), notes in list(grouped.items())[:MAX_STAYS]:
            state, effect = effects(notes, self.defects)
            # what the stay shows: the latest content among the notifications still counting
            shown = [n for n in notes if effect[n.seq] == "applied"] or notes
            last = shown[-1]
            found.append(
                Stay(
                    episode,
                    cpr,
                    state,
                    last.encounter_class,
                    last.start,
                    last.end,
                    last.hospital,
                    tuple((n, effect[n.seq]) for n in notes),
                )
            )
        return found

    def reset(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM hospital_notification")

    def router(self, prefix: str) -> APIRouter:
        # The web layer loads only when the LPS serves: kcert's own process reads this module
        # for the defect catalogue, and fastapi would add a third of a second to every run.
        from harness.reflps.hospitalnotification_routes import stays_router

        return stays_router(self, prefix)


STANDARD = ReceivedStandard(
    name="HospitalNotification",
    event=EVENT,
    activities=ACTIVITIES,
    defects=DEFECTS,
    create=HospitalNotifications,
)
