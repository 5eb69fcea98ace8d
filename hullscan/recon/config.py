"""Configuration of the reconstruction subsystem."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReconConfig(BaseModel):
    """Georeferencing, cleaning and fusion settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    voxel_size: float = Field(0.02, ge=0.01, le=0.05, description="fusion voxel edge (m)")
    time_offset_s: float = Field(0.0, description="sonar clock minus navigation clock (s)")
    max_nav_gap_s: float = Field(0.5, gt=0.0, description="pings in a longer navigation gap are dropped")
