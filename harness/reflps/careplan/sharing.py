"""Share a patient's plan: build the DK-CPD, keep the version chain, submit to a repository."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from harness.reflps.careplan.codes import (
    CLASS_CODE,
    CONFIDENTIALITY,
    CPD_CODE,
    CPR_ROOT,
    FORMAT_CODE,
    LOINC,
    SOR_ROOT,
)
from harness.reflps.careplan.cpd import Version, build_cpd
from harness.reflps.cockpit.store import ClinicStore

TIMEOUT_S = (5.0, 30.0)
LOOPBACK_NAMES = {"localhost"}


class ShareRefused(ValueError):
    """The share request cannot be carried out (bad repository URL)."""


class RepositoryFailed(RuntimeError):
    """The repository could not be reached or refused the submission."""


@dataclass(frozen=True)
class Shared:
    document_id: str
    version: int
    repository_status: int


def _check_repository_url(url: str) -> str:
    """Only http(s) to a loopback address: this test build never sends plans elsewhere."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ShareRefused(f"repositoryUrl must be an http(s) URL, got {url[:80]!r}")
    host = parts.hostname
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host.lower() in LOOPBACK_NAMES
    if not loopback:
        raise ShareRefused("the reference LPS shares plans only with a repository on loopback")
    try:
        _ = parts.port
    except ValueError:
        raise ShareRefused("repositoryUrl has a bad port") from None
    return url


def _other_cpr(cpr: str) -> str:
    """A neighbouring patient's number (the defect metadata-cpr-mismatch)."""
    serial = int(cpr[6:]) if cpr[6:].isdigit() else 0
    return cpr[:6] + f"{(serial + 1) % 10000:04d}"


class PlanSharing:
    """The version chain per patient lives next to the clinic's data, in the same database."""

    def __init__(self, store: ClinicStore, defects: frozenset[str]) -> None:
        self.store = store
        self.defects = defects
        self.session = requests.Session()
        self.session.trust_env = False  # a proxy from the environment must not see plans

    @staticmethod
    def check_url(url: str) -> str:
        return _check_repository_url(url)

    def patient(self, cpr: str) -> dict[str, str] | None:
        rows = self.store.query(
            "SELECT cpr, given, family, gender, birth FROM cp_patient WHERE cpr = ?", (cpr,)
        )
        if not rows:
            return None
        r = rows[0]
        return {
            "cpr": str(r[0]),
            "given": str(r[1] or ""),
            "family": str(r[2] or ""),
            "gender": str(r[3] or ""),
            "birth": str(r[4]),
        }

    def _first_measurements(self, cpr: str, as_of: str) -> list[dict[str, Any]]:
        """The defect: the first value per code ever recorded, however old."""
        rows = self.store.query(
            "SELECT system, code, date, num, txt FROM (SELECT system, code, date, num, txt, "
            "ROW_NUMBER() OVER (PARTITION BY code ORDER BY date, seq) AS n FROM cp_measurement "
            "WHERE cpr = ? AND date <= ? AND (num IS NOT NULL OR txt IS NOT NULL)) "
            "WHERE n = 1 ORDER BY code",
            (cpr, as_of),
        )
        return [
            {
                "system": r[0],
                "code": r[1],
                "date": r[2],
                "value": r[3] if r[3] is not None else r[4],
            }
            for r in rows
        ]

    def _versions(self, cpr: str) -> tuple[Version, Version | None]:
        rows = self.store.query(
            "SELECT doc_id, set_id, version FROM rp_shared WHERE cpr = ?", (cpr,)
        )
        new_id = str(uuid.uuid4()).upper()
        if not rows:
            return Version(new_id, str(uuid.uuid4()).upper(), 1), None
        parent = Version(str(rows[0][0]), str(rows[0][1]), int(rows[0][2]))
        if "cpd-replacement-without-parent" in self.defects:
            # every share starts a new set: the old plan stays current next to the new one
            return Version(new_id, str(uuid.uuid4()).upper(), 1), None
        return Version(new_id, parent.set_id, parent.version + 1), parent

    def share(
        self,
        plan: dict[str, Any],
        patient: dict[str, str],
        clinic: dict[str, str],
        repository_url: str,
    ) -> Shared:
        if "cpd-stale-measurement" in self.defects:
            plan = {**plan, "measurements": self._first_measurements(patient["cpr"], plan["asOf"])}
        this, parent = self._versions(patient["cpr"])
        created = dt.datetime.now(dt.UTC).replace(microsecond=0)
        document = build_cpd(plan, patient, clinic, this, parent, created, self.defects)
        metadata: dict[str, Any] = {
            "uniqueId": this.id,
            "patientId": {
                "id": _other_cpr(patient["cpr"])
                if "cpd-metadata-cpr-mismatch" in self.defects
                else patient["cpr"],
                "root": CPR_ROOT,
            },
            "authorInstitution": {"id": clinic["sor"], "root": SOR_ROOT, "name": clinic["name"]},
            "classCode": {"code": CLASS_CODE[0], "system": CLASS_CODE[1]},
            "typeCode": {"code": CPD_CODE, "system": LOINC},
            "formatCode": {"code": FORMAT_CODE[0], "system": FORMAT_CODE[1]},
            "mimeType": "text/xml",
            "creationTime": created.strftime("%Y%m%d%H%M%S"),
            "confidentialityCode": {"code": CONFIDENTIALITY[0], "system": CONFIDENTIALITY[1]},
            "languageCode": "da-DK",
        }
        if parent is not None:
            metadata["parentDocument"] = {"id": parent.id, "relationship": "RPLC"}
        body = {"metadata": metadata, "document": base64.b64encode(document).decode("ascii")}
        try:
            answer = self.session.post(
                repository_url,
                data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                headers={"Content-Type": "application/json"},
                timeout=TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise RepositoryFailed(f"repository not reachable: {type(exc).__name__}") from None
        if answer.status_code >= 300:
            raise RepositoryFailed(f"repository refused the submission: HTTP {answer.status_code}")
        with self.store.lock:
            self.store.db.execute(
                "INSERT OR REPLACE INTO rp_shared VALUES (?, ?, ?, ?)",
                (patient["cpr"], this.id, this.set_id, this.version),
            )
        return Shared(this.id, this.version, answer.status_code)
