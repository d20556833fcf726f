"""Talking to child workflows that may already have finished."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.workflow import ChildWorkflowHandle


async def signal_if_running(handle: ChildWorkflowHandle[Any, Any], signal: Callable[..., Any], arg: Any) -> None:
    """Signal a child (by its signal method) unless it has already finished (its own completion is then on its way)."""
    try:
        await handle.signal(signal, arg)
    except ApplicationError as err:
        if err.type != "ExternalWorkflowExecutionNotFound":
            raise
