"""``TopologySettings``: the few options discovery, monitoring and selection need.

The client maps its ``ClientOptions`` onto this small frozen dataclass, so the
topology does not depend on the option parser. Validation follows the SDAM spec's
"Allowed configuration combinations" and "heartbeatFrequencyMS" rules; every error
names the offending option.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from driver.errors import ConfigurationError
from driver.sdam.types import Address, TopologyType, normalize_address

MONITORING_MODES = ("auto", "stream", "poll")

# Environment variables whose presence means we run inside a function-as-a-service
# runtime, where "auto" monitoring must poll (server monitoring spec, serverMonitoringMode).
_FAAS_VARIABLES = ("AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_WORKER_RUNTIME", "K_SERVICE",
                   "FUNCTION_NAME", "VERCEL")


def running_in_faas() -> bool:
    """True inside AWS Lambda, Azure Functions, GCP Functions or Vercel."""
    if os.environ.get("AWS_EXECUTION_ENV", "").startswith("AWS_Lambda_"):
        return True
    return any(os.environ.get(name) for name in _FAAS_VARIABLES)


@dataclass(frozen=True)
class TopologySettings:
    """Options of one topology. Times are in milliseconds, as in the URI."""

    seeds: Sequence[Address | str] = (("localhost", 27017),)
    replica_set_name: str | None = None
    direct_connection: bool | None = None
    load_balanced: bool = False
    heartbeat_frequency_ms: int = 10_000
    min_heartbeat_frequency_ms: int = 500
    server_selection_timeout_ms: int = 30_000
    local_threshold_ms: int = 15
    server_monitoring_mode: str = "auto"
    connect_timeout_ms: int = 20_000
    srv_host: str | None = None
    srv_max_hosts: int = 0
    normalized_seeds: tuple[Address, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.seeds, (str, bytes)) or not isinstance(self.seeds, Sequence):
            raise ConfigurationError(f"seeds must be a list of addresses, not {self.seeds!r}")
        try:
            seeds = tuple(dict.fromkeys(normalize_address(seed) for seed in self.seeds))
        except ValueError as exc:
            raise ConfigurationError(f"seeds: {exc}") from None
        object.__setattr__(self, "normalized_seeds", seeds)
        if not seeds:
            raise ConfigurationError("seeds: at least one server address is required")
        if self.direct_connection and len(seeds) > 1:
            raise ConfigurationError("directConnection=true cannot be used with multiple seeds")
        if self.load_balanced:
            if self.direct_connection:
                raise ConfigurationError("loadBalanced=true cannot be used with directConnection=true")
            if self.replica_set_name is not None:
                raise ConfigurationError("loadBalanced=true cannot be used with replicaSet")
            if len(seeds) > 1:
                raise ConfigurationError("loadBalanced=true cannot be used with multiple hosts")
        for name in ("heartbeat_frequency_ms", "min_heartbeat_frequency_ms",
                     "server_selection_timeout_ms", "local_threshold_ms", "connect_timeout_ms",
                     "srv_max_hosts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"{name} must be a non-negative number, not {value!r}")
        # "the driver MUST NOT permit users to configure it less than minHeartbeatFrequencyMS"
        if self.heartbeat_frequency_ms < self.min_heartbeat_frequency_ms:
            raise ConfigurationError(
                f"heartbeatFrequencyMS must be at least {self.min_heartbeat_frequency_ms}, "
                f"not {self.heartbeat_frequency_ms}"
            )
        if self.server_monitoring_mode not in MONITORING_MODES:
            raise ConfigurationError(
                f"serverMonitoringMode must be one of {', '.join(MONITORING_MODES)}, "
                f"not {self.server_monitoring_mode!r}"
            )

    @property
    def initial_topology_type(self) -> TopologyType:
        """SDAM spec, "Initial TopologyType" (an unspecified directConnection means false)."""
        if self.load_balanced:
            return TopologyType.LoadBalanced
        if self.direct_connection:
            return TopologyType.Single
        if self.replica_set_name is not None:
            return TopologyType.ReplicaSetNoPrimary
        return TopologyType.Unknown

    @property
    def heartbeat_frequency(self) -> float:
        """Seconds between checks."""
        return self.heartbeat_frequency_ms / 1000.0

    @property
    def min_heartbeat_frequency(self) -> float:
        return self.min_heartbeat_frequency_ms / 1000.0

    @property
    def server_selection_timeout(self) -> float:
        return self.server_selection_timeout_ms / 1000.0

    @property
    def connect_timeout(self) -> float | None:
        """Seconds; ``None`` (no limit) when connectTimeoutMS is 0."""
        return self.connect_timeout_ms / 1000.0 if self.connect_timeout_ms else None

    @property
    def use_streaming(self) -> bool:
        """Whether monitors may use the streaming (awaitable hello) protocol."""
        if self.server_monitoring_mode == "stream":
            return True
        if self.server_monitoring_mode == "poll":
            return False
        return not running_in_faas()


__all__ = ["MONITORING_MODES", "TopologySettings", "running_in_faas"]
