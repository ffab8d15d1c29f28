"""Typed shapes of the InfluxDB invocable-scripts API (contract: /api/v2/scripts).

Attributes are snake_case; validation accepts the contract's JSON names (``orgID``, ``createdAt``, ...)
and the snake_case names alike, and :meth:`Script.to_json` writes the contract's names back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ScriptLanguage(StrEnum):
    """The language a script is written in."""

    FLUX = "flux"
    SQL = "sql"
    INFLUXQL = "influxql"


class Script(BaseModel):
    """A stored script as the server returns it."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    org_id: str = Field(alias="orgID")
    name: str
    description: str = ""
    script: str
    language: ScriptLanguage = ScriptLanguage.FLUX
    url: str | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")

    def to_json(self) -> dict[str, Any]:
        """The script as the contract's JSON object (camelCase names, RFC 3339 times)."""
        return self.model_dump(mode="json", by_alias=True)


class ScriptCreate(BaseModel):
    """The body of ``POST /api/v2/scripts``: all four fields are sent (``description`` may be empty)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    description: str = ""
    script: str = Field(min_length=1)
    language: ScriptLanguage = ScriptLanguage.FLUX


class ScriptUpdate(BaseModel):
    """The body of ``PATCH /api/v2/scripts/{id}``: only the fields given change (the name cannot)."""

    model_config = ConfigDict(extra="forbid")

    description: str | None = None
    script: str | None = Field(default=None, min_length=1)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
