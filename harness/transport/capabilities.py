"""What a transport offers beyond `request`, as explicit protocols an action checks with
`isinstance` (never by probing attribute names).

- `InboundRecord`: what the SUT sent to kcert's peer comes from a record (a replay), not from
  a live peer server;
- `SideChannelRecord`: exchanges kcert made without HTTP (the contract-fuzz summary, exports)
  come from a record;
- `InProcessApp`: the SUT is an ASGI app in this process (contract fuzzing drives it directly);
- `HttpSession`: the SUT is reached through a `requests` session carrying its auth and TLS;
- `ExtraHeaders`: headers the runner adds to every request of the step in flight (a
  connectathon instance's and step's ids, which a recording proxy matches traffic by).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from harness.model.exchange import Exchange

if TYPE_CHECKING:
    import requests


@runtime_checkable
class InboundRecord(Protocol):
    def take_inbound(self) -> list[Exchange]:
        """The recorded requests the SUT made to kcert's peer at this point of the case."""
        ...


@runtime_checkable
class SideChannelRecord(Protocol):
    def take_recorded(self, method: str) -> Exchange:
        """The next recorded exchange kcert made without HTTP (its method names the kind)."""
        ...


@runtime_checkable
class InProcessApp(Protocol):
    app: Any  # the ASGI application the transport calls


@runtime_checkable
class HttpSession(Protocol):
    session: requests.Session


@runtime_checkable
class ExtraHeaders(Protocol):
    # sent with every request until changed; a request's own headers win on a clash
    extra_headers: dict[str, str]
