"""One way to connect to Temporal: the configured address, with the pydantic converter."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError, RPCStatusCode, TLSConfig

from payload_codec import data_converter
from settings import Settings
from workflows import search_attributes as sa


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


async def connect(settings: Settings, runtime: Runtime | None = None, lazy: bool = False) -> Client:
    """`lazy`: connect on first use, so a process can start (and say it is not ready) while Temporal is down."""
    return await Client.connect(
        settings.temporal_address,
        runtime=runtime,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings.payload_keys, settings.payload_key_id),
        tls=tls_config(settings),
        lazy=lazy,
    )


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
