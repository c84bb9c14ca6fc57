"""What the connectathon store offers (implemented by `harness.connectathon.store`).

Everything else (executor, proxy, web, export, demo) talks to the store only through this.
All methods are thread-safe (the proxy records from its connection threads).
"""

from __future__ import annotations

from typing import Protocol

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


class StoreApi(Protocol):
    url: str

    def close(self) -> None: ...

    # sessions and systems
    def create_session(
        self, name: str, starts: str, ends: str, scenarios: list[str]
    ) -> ConnectathonSession: ...
    def sessions(self) -> list[ConnectathonSession]: ...
    def session(self, session_id: str) -> ConnectathonSession: ...  # KeyError if unknown
    def register_system(self, system: System) -> None: ...
    def systems(self, session_id: str) -> list[System]: ...
    def system(self, session_id: str, system_id: str) -> System: ...

    # test instances and their steps
    def add_instances(self, instances: list[TestInstance]) -> None: ...
    def instances(self, session_id: str, system_id: str | None = None) -> list[TestInstance]: ...
    def instance(self, instance_id: str) -> TestInstance: ...
    def update_instance(self, instance: TestInstance) -> None: ...  # whole row written
    def save_steps(self, instance_id: str, steps: list[InstanceStep]) -> None: ...  # replaces
    def steps(self, instance_id: str) -> list[InstanceStep]: ...

    # proxy endpoints and recorded traffic
    def save_endpoint(self, endpoint: Endpoint) -> None: ...
    def endpoints(self, session_id: str) -> list[Endpoint]: ...
    def record_exchange(self, exchange: RecordedExchange) -> None: ...  # insert or replace
    def exchange(self, exchange_id: str) -> RecordedExchange: ...
    def exchanges(
        self,
        session_id: str,
        instance_id: str | None = None,
        unmatched: bool = False,
        limit: int = 1000,
    ) -> list[RecordedExchange]: ...

    # grading (every act kept: the audit trail)
    def add_grade(self, grade: Grade) -> None: ...  # also sets the instance's grade/claim
    def grades(self, instance_id: str) -> list[Grade]: ...
    def save_attachment(
        self, instance_id: str, name: str, content_type: str, data: bytes
    ) -> str: ...
    def attachment(self, attachment_id: str) -> tuple[str, str, bytes]: ...  # name, type, bytes

    # accounts
    def add_account(self, account: Account) -> None: ...
    def account(self, username: str) -> Account | None: ...
    def accounts(self) -> list[Account]: ...

    # the results matrix
    def matrix(self, session_id: str) -> list[MatrixCell]: ...
