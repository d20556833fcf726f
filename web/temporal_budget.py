"""A time budget for everything the web asks Temporal, set once here: no page waits on Temporal longer
than `REQUEST_BUDGET` in all, however many calls it makes, so a person is never left with a hung page.

The budget starts when a request arrives (`RequestBudget`, the ASGI middleware) and every Temporal call
made for it (`BudgetInterceptor`, on the web's client) ends when it runs out, with
`RPCTimeoutOrCancelledError`, which the refusal map answers 503 with Retry-After (link pages and
console forms come back filled in). Outside a request (a test, a script) each call gets the whole
budget. An update cut off this way may still be carried out later: the one-time submission id it
carries makes sending it again safe (recorded once, answered with the first outcome).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import timedelta
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.client import (
    CancelWorkflowInput,
    Client,
    CountWorkflowsInput,
    DescribeWorkflowInput,
    Interceptor,
    ListWorkflowsInput,
    OutboundInterceptor,
    QueryWorkflowInput,
    RPCTimeoutOrCancelledError,
    SignalWorkflowInput,
    StartWorkflowInput,
    StartWorkflowUpdateInput,
    TerminateWorkflowInput,
)

REQUEST_BUDGET = 10.0
"""Seconds a request may spend waiting on Temporal in all (README: the stated timeout)."""

_deadline: ContextVar[float | None] = ContextVar("temporal_deadline", default=None)


def remaining() -> float:
    """Seconds left of the current request's budget (the whole budget outside a request)."""
    deadline = _deadline.get()
    if deadline is None:
        return REQUEST_BUDGET
    return max(0.0, deadline - asyncio.get_running_loop().time())


@asynccontextmanager
async def within_budget() -> AsyncIterator[None]:
    """Calls the interceptor cannot see (raw `workflow_service` RPCs) held to what is left of the budget."""
    try:
        async with asyncio.timeout(remaining()):
            yield
    except TimeoutError as err:
        raise RPCTimeoutOrCancelledError(f"Temporal did not answer within {REQUEST_BUDGET:g} s") from err


class RequestBudget:
    """ASGI middleware: starts the budget for each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _deadline.set(asyncio.get_running_loop().time() + REQUEST_BUDGET)
        try:
            await self.app(scope, receive, send)
        finally:
            _deadline.reset(token)


class _Bounded(OutboundInterceptor):
    async def start_workflow(self, input: StartWorkflowInput) -> Any:
        async with within_budget():
            return await self.next.start_workflow(input)

    async def cancel_workflow(self, input: CancelWorkflowInput) -> None:
        async with within_budget():
            await self.next.cancel_workflow(input)

    async def describe_workflow(self, input: DescribeWorkflowInput) -> Any:
        async with within_budget():
            return await self.next.describe_workflow(input)

    def list_workflows(self, input: ListWorkflowsInput) -> Any:
        return _BoundedPages(self.next.list_workflows(replace(input, rpc_timeout=rpc_timeout())))

    async def count_workflows(self, input: CountWorkflowsInput) -> Any:
        async with within_budget():
            return await self.next.count_workflows(input)

    async def query_workflow(self, input: QueryWorkflowInput) -> Any:
        async with within_budget():
            return await self.next.query_workflow(input)

    async def signal_workflow(self, input: SignalWorkflowInput) -> None:
        async with within_budget():
            await self.next.signal_workflow(input)

    async def terminate_workflow(self, input: TerminateWorkflowInput) -> None:
        async with within_budget():
            await self.next.terminate_workflow(input)

    async def start_workflow_update(self, input: StartWorkflowUpdateInput) -> Any:
        async with within_budget():
            return await self.next.start_workflow_update(input)


class _BoundedPages:
    """A listing whose every page (and the connection it may first open) is held to the budget."""

    def __init__(self, pages: AsyncIterator[Any]) -> None:
        self._pages = pages

    def __aiter__(self) -> _BoundedPages:
        return self

    async def __anext__(self) -> Any:
        async with within_budget():
            return await self._pages.__anext__()


class BudgetInterceptor(Interceptor):
    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _Bounded(next)


def bounded(client: Client) -> Client:
    """The same connection, with every call the web makes held to the request's budget."""
    config = client.config()
    config["interceptors"] = [*config["interceptors"], BudgetInterceptor()]
    return Client(**config)


def rpc_timeout() -> timedelta:
    """What is left of the budget, for the few direct service calls (`workflow_service.…`)."""
    return timedelta(seconds=max(remaining(), 0.1))
