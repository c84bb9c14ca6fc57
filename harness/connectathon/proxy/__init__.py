"""The recording proxy (issue 14, deliverable 3): one port per registered endpoint, bytes
forwarded unaltered, every exchange stored, matched to a test instance step and validated.

Modules, one responsibility each: `spec` (what to proxy), `limits` (every bound), `tls`
(terminating and re-originating contexts), `wire` (HTTP/1.1 framing with raw bytes kept),
`forwarding` (one client connection, served in turns), `parking` (kept-alive connections
between requests, watched without a thread each), `capture` (what was seen), `matching`
(which instance and step), `rematch` (steps saved after their exchanges), `recording` (to
the store, redacted and masked), `validation` (live, bounded), `rules` (the proxy's rule ids
and titles), `server` (listeners, the pool, start/stop), `overhead` (proxied vs direct
latency).
"""

from __future__ import annotations

from harness.connectathon.proxy.limits import LimitsError, ProxyLimits
from harness.connectathon.proxy.server import ProxyError, ProxyStats, RecordingProxy
from harness.connectathon.proxy.spec import EndpointSpec, ProxyTls, SpecError

__all__ = [
    "EndpointSpec",
    "LimitsError",
    "ProxyError",
    "ProxyLimits",
    "ProxyStats",
    "ProxyTls",
    "RecordingProxy",
    "SpecError",
]
