"""One codec between a SUT's configuration and the SUT block of reports and the run store.

`sut_info`: configuration → the block a report shows and the store keeps (`SutInfo`, its
`to_dict`/`from_dict` the JSON form), endpoints without credentials. `replay_config`: the
block (and the recorded scope) → the configuration a re-judging runs under, with the manual
settings of the configuration file when it is still there.
"""

from __future__ import annotations

import dataclasses

from harness.model.result import SutInfo
from harness.model.scope import Capabilities
from harness.redact import redact_url
from harness.sut.config import SutConfig


def sut_info(config: SutConfig) -> SutInfo:
    """What a report and the run store say about the SUT (no token, no credentials in URLs)."""
    return SutInfo(
        name=config.name,
        vendor=config.vendor,
        version=config.version,
        transport=config.transport,
        endpoints={k: redact_url(v) for k, v in config.endpoints.items()},
        identity={"sor": config.sor, "gln": config.gln, "name": config.org_name},
        defects=config.defects,
    )


def replay_config(
    info: SutInfo,
    capabilities: Capabilities | None = None,
    configured: SutConfig | None = None,
) -> SutConfig:
    """The SUT as recorded, for a replay: identity and (redacted) endpoints from the block,
    the recorded scope's capabilities (the replayed health answer says nothing), the manual
    operations and exports folder from the configuration file when it still loads."""
    config = SutConfig(
        name=info.name,
        vendor=info.vendor,
        version=info.version,
        endpoints=dict(info.endpoints),
        sor=info.identity.get("sor", ""),
        gln=info.identity.get("gln", ""),
        org_name=info.identity.get("name", ""),
        transport="replay",
        defects=info.defects,
        capabilities=capabilities,
    )
    if configured is None:
        return config
    return dataclasses.replace(
        config,
        manual_operations=configured.manual_operations,
        exports_dir=configured.exports_dir,
    )
