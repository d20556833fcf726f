"""One way to connect to Temporal: the configured address, with the pydantic converter; and, for reading the
list of escalations alone, its service layer (`connect_visibility`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import ConnectConfig, RPCError, RPCStatusCode, ServiceClient, TLSConfig, WorkflowService

from settings import Settings
from workflows import search_attributes as sa

if TYPE_CHECKING:
    from temporalio.client import Client


def tls_config(settings: Settings) -> TLSConfig | bool:
    """Client certificate and key for a managed Temporal service; plain connection when unset."""
    if settings.temporal_tls_cert is None:
        return False
    if settings.temporal_tls_key is None:
        raise ValueError("TEMPORAL_TLS_KEY: needed with TEMPORAL_TLS_CERT")
    return TLSConfig(
        client_cert=settings.temporal_tls_cert.read_bytes(),
        client_private_key=settings.temporal_tls_key.read_bytes(),
        server_root_ca_cert=settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None,
    )


def metrics_runtime(bind_address: str) -> Runtime:
    """A runtime serving the SDK's and our own metrics for Prometheus at `bind_address`."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


def connect_config(settings: Settings, runtime: Runtime | None = None, lazy: bool = False) -> ConnectConfig:
    """Where Temporal is and how to reach it, for a client and for its service layer alike."""
    return ConnectConfig(target_host=settings.temporal_address, tls=tls_config(settings), runtime=runtime, lazy=lazy)


async def connect(settings: Settings, runtime: Runtime | None = None, lazy: bool = False) -> Client:
    """`lazy`: connect on first use, so a process can start (and say it is not ready) while Temporal is down.

    As `Client.connect` does it (with no plugins), from the service connection `connect_config` describes;
    temporalio.client and the payload codec are imported here, so `connect_visibility` does without them."""
    from temporalio.client import Client

    from payload_codec import data_converter

    return Client(
        await ServiceClient.connect(connect_config(settings, runtime, lazy)),
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.payload_keys, settings.payload_key_id),
    )


@dataclass(frozen=True)
class ServiceVisibility:
    """Temporal's workflow service and the namespace: what listing escalations needs (`service.listing.Visibility`).
    Search attributes are never encoded by the payload codec, so a list needs no data converter either."""

    workflow_service: WorkflowService
    namespace: str


async def connect_visibility(settings: Settings) -> ServiceVisibility:
    """Connect for listing alone, without importing temporalio.client: `starter.py list`, a timed target (issue
    #16), would spend about 0.1 s of its start on that import."""
    service = await ServiceClient.connect(connect_config(settings))
    return ServiceVisibility(service.workflow_service, settings.temporal_namespace)


async def ensure_search_attributes(client: Client) -> None:
    """Register the escalation search attributes on the namespace; ones already there are kept.

    The time-skipping test server cannot list attributes, so there every one is added."""
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace)
        )
        existing = set(listed.custom_attributes)
    except RPCError as err:
        if err.status is not RPCStatusCode.UNIMPLEMENTED:
            raise
        existing = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value) for key in sa.ALL if key.name not in existing
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
