"""Configuration of the comparator subsystem."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CompareConfig(BaseModel):
    """Alignment, deviation and finding thresholds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_height_m: float = Field(0.05, gt=0.0, description="smallest deviation that can form a finding (m)")
    frame_spacing_m: float | None = Field(None, gt=0.0, description="frame spacing for frame numbers (m)")
