"""The one place that connects a Temporal client: always with the pydantic data converter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

log = logging.getLogger(__name__)


def metrics_runtime(bind_address: str) -> Runtime:
    """A Temporal SDK runtime serving the SDK's own metrics (workflow and activity task
    latencies, slots, polls, sticky cache) for Prometheus at ``http://<bind_address>/metrics``."""
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind_address)))


async def connect_temporal(
    address: str,
    namespace: str = "default",
    wait_seconds: float = 0.0,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client of ``address``. With ``wait_seconds``, a server that is not up yet (a
    process supervisor starts the dev server and the worker together) is tried again,
    every half second at first, until it answers or the time is up; the last error is
    raised then. Without it, the first refusal is raised at once."""
    deadline = time.monotonic() + wait_seconds
    pause = 0.5
    while True:
        try:
            return await Client.connect(
                address,
                namespace=namespace,
                data_converter=pydantic_data_converter,
                runtime=runtime,
                interceptors=interceptors,
            )
        except RuntimeError as err:  # the SDK's "Failed client connect: ..."
            if time.monotonic() + pause > deadline:
                raise
            log.warning("Temporal at %s is not answering yet (%s); trying again", address, err)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)
