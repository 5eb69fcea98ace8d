"""Configuration of the report subsystem (section ``report:`` of the YAML config)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ReportConfig(BaseModel):
    """What the verdict demands, how confidence is classed, and which files the report writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    clear_floor: float = Field(
        0.95, gt=0.0, le=1.0,
        description="share of the wetted hull that must be cleared before 'nothing found' exits 0; below it "
                    "the run exits 4 (nothing found, but not enough inspected to call the hull clean)")
    confidence_high: float = Field(0.7, gt=0.0, le=1.0, description="confidence at or above this is 'high'")
    confidence_medium: float = Field(0.4, ge=0.0, le=1.0, description="confidence at or above this is 'medium'")
    pdf: bool = Field(True, description="write report.pdf beside report.html (WeasyPrint)")

    def confidence_class(self, confidence: float) -> str:
        if confidence >= self.confidence_high:
            return "high"
        return "medium" if confidence >= self.confidence_medium else "low"
