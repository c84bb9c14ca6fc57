"""A connectathon store in memory, for the executor's tests until the store lane's lands."""

from __future__ import annotations

import copy
import threading

from harness.connectathon.model import (
    Account,
    ConnectathonSession,
    Endpoint,
    Grade,
    InstanceStep,
    MatrixCell,
    RecordedExchange,
    System,
    TestInstance,
)


class MemoryStore:
    """What `run_instance` needs of `StoreApi`, kept in dictionaries (thread-safe)."""

    url = "memory:"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, ConnectathonSession] = {}
        self._systems: dict[tuple[str, str], System] = {}
        self._instances: dict[str, TestInstance] = {}
        self._steps: dict[str, list[InstanceStep]] = {}
        self._grades: dict[str, list[Grade]] = {}
        self._endpoints: dict[str, Endpoint] = {}
        self._exchanges: dict[str, RecordedExchange] = {}

    def close(self) -> None:
        pass

    def create_session(
        self, name: str, starts: str, ends: str, scenarios: list[str]
    ) -> ConnectathonSession:
        session = ConnectathonSession(
            f"s{len(self._sessions) + 1}", name, starts, ends, tuple(scenarios)
        )
        self._sessions[session.session_id] = session
        return session

    def sessions(self) -> list[ConnectathonSession]:
        return list(self._sessions.values())

    def session(self, session_id: str) -> ConnectathonSession:
        return self._sessions[session_id]

    def register_system(self, system: System) -> None:
        self._systems[(system.session_id, system.system_id)] = system

    def systems(self, session_id: str) -> list[System]:
        return [s for (sid, _), s in self._systems.items() if sid == session_id]

    def system(self, session_id: str, system_id: str) -> System:
        return self._systems[(session_id, system_id)]

    def add_instances(self, instances: list[TestInstance]) -> None:
        with self._lock:
            for instance in instances:
                self._instances[instance.instance_id] = copy.deepcopy(instance)

    def instances(self, session_id: str, system_id: str | None = None) -> list[TestInstance]:
        return [
            copy.deepcopy(i)
            for i in self._instances.values()
            if i.session_id == session_id
            and (system_id is None or any(b.system_id == system_id for b in i.bindings))
        ]

    def instance(self, instance_id: str) -> TestInstance:
        with self._lock:
            return copy.deepcopy(self._instances[instance_id])

    def update_instance(self, instance: TestInstance) -> None:
        with self._lock:
            if instance.instance_id not in self._instances:
                raise KeyError(instance.instance_id)
            self._instances[instance.instance_id] = copy.deepcopy(instance)

    def save_steps(self, instance_id: str, steps: list[InstanceStep]) -> None:
        with self._lock:
            self._steps[instance_id] = copy.deepcopy(steps)

    def steps(self, instance_id: str) -> list[InstanceStep]:
        with self._lock:
            return copy.deepcopy(self._steps.get(instance_id, []))

    def save_endpoint(self, endpoint: Endpoint) -> None:
        self._endpoints[endpoint.endpoint_id] = endpoint

    def endpoints(self, session_id: str) -> list[Endpoint]:
        return [e for e in self._endpoints.values() if e.session_id == session_id]

    def record_exchange(self, exchange: RecordedExchange) -> None:
        self._exchanges[exchange.exchange_id] = exchange

    def exchange(self, exchange_id: str) -> RecordedExchange:
        return self._exchanges[exchange_id]

    def exchanges(
        self,
        session_id: str,
        instance_id: str | None = None,
        unmatched: bool = False,
        limit: int = 1000,
    ) -> list[RecordedExchange]:
        found = [
            e
            for e in self._exchanges.values()
            if e.session_id == session_id
            and (instance_id is None or e.instance_id == instance_id)
            and (not unmatched or not e.instance_id)
        ]
        return found[:limit]

    def add_grade(self, grade: Grade) -> None:
        with self._lock:
            self._grades.setdefault(grade.instance_id, []).append(grade)
            instance = self._instances[grade.instance_id]
            if grade.kind != "claim":
                instance.grade = grade.grade

    def grades(self, instance_id: str) -> list[Grade]:
        with self._lock:
            return list(self._grades.get(instance_id, []))

    def save_attachment(self, instance_id: str, name: str, content_type: str, data: bytes) -> str:
        raise NotImplementedError

    def attachment(self, attachment_id: str) -> tuple[str, str, bytes]:
        raise NotImplementedError

    def add_account(self, account: Account) -> None:
        raise NotImplementedError

    def account(self, username: str) -> Account | None:
        return None

    def accounts(self) -> list[Account]:
        return []

    def matrix(self, session_id: str) -> list[MatrixCell]:
        return []
