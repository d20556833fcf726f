"""What a kind of escalation declares about itself, once, so that every layer can be built from it.

The command line's start subcommand, the console's start form, the link pages each party is sent,
the report and the worker's registrations all read a `KindSpec`; none of them names a kind.
How to add one: docs/adding-a-kind.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from domain.configuration import EscalationConfig
from domain.contacts import Role
from domain.escalation import EscalationCase


@dataclass(frozen=True)
class StartForm:
    """The console's start form: its fields (a template under web/templates/start/), and how the
    posted fields become the same data as the kind's JSON file, so both pass one builder."""

    template: str
    to_data: Callable[[Mapping[str, str], str], dict[str, Any]]
    context: Callable[[EscalationConfig], dict[str, Any]] = field(default=lambda config: {})
    rows: Callable[[Mapping[str, str]], dict[str, list[int]]] = field(default=lambda form: {})
    """Where each entry of a repeated part came from on the form (`resolve.as_typed`): rows left empty are skipped."""


@dataclass(frozen=True)
class KindSpec:
    name: str
    """The kind's key (the domain's KIND): in search attributes, URLs and `--kind`."""
    label: str
    """As people name it: headings, menus, the CLI's help."""
    id_prefix: str
    """Escalation references begin with it (UWC-2026-7K3QXA): says the kind, nothing about patients."""
    cli_command: str
    """`starter.py <cli_command> FILE` starts one from a JSON file."""
    example: str
    """A realistic JSON file under examples/ (the walk-through, tests and docs use it)."""
    request_model: type[BaseModel]
    """What an officer submits, as a JSON file or a form."""
    case_model: type[EscalationCase]
    """The domain's state machine; its `report_lines()` is the kind's report mapping."""
    build: Callable[[EscalationConfig, dict[str, Any], str], BaseModel]
    """Officer data (already JSON-shaped) and a fresh reference -> the workflow's start model, or `Refused`."""
    run: Callable[..., Any]
    """The workflow's run method, started by reference."""
    workflows: tuple[type, ...]
    """Every workflow the kind runs (itself and its children), registered on the worker."""
    payer_code: Callable[[Any], str]
    """The organisation pursued, from the start model (the PayerCode search attribute)."""
    first_status: str
    announce: Callable[[Any], str]
    """What the officer is told when it starts (CLI and console)."""
    form: StartForm
    parties: Mapping[Role, tuple[str, ...]]
    """Who is sent a link, and every action each of them may ever take (the state decides which are open)."""
    labels: Mapping[str, str]
    """Every action of `parties`, in words."""
    parts: tuple[str, ...] = ()
    """The kinds of its child escalations (a practice's return, a payer's confirmation), searchable too."""
    activities: Callable[[Any, Any], tuple[Callable[..., Any], ...]] = field(default=lambda settings, engine: ())
    """The kind's own activities beyond audit, email and returns, made from the worker's `Settings` and database
    `Engine` (an interface alert's index row and daily digest)."""
    practice_list: Callable[[Any], tuple[list[dict[str, Any]], BaseModel]] | None = None
    """Incidents: the start model -> its practices (stored once, before it starts) and the start model that
    carries only their count, so no Temporal payload grows with the incident."""
