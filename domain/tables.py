"""A table a recipient needs to decide (a claim's lines, a payment schedule): headings, rows
and a total row, all already in words, so emails, link pages and CSV render it alike."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Table(BaseModel):
    caption: str
    columns: list[str]
    rows: list[list[str]] = Field(default_factory=list)
    total: list[str] | None = None  # the closing row ("Total", "", ..., "£2,837.00")
    numeric: list[int] = Field(default_factory=list)  # indexes of columns aligned right
