"""Declared hull fittings (the ship's anode or docking plan): the findings a fitting explains.

A design mesh rarely carries a ship's sacrificial anodes, echo-sounder transducers or log, and an
anode is a block of a compartment's size (0.8 x 0.25 x 0.08 m, 16 L): against such a mesh every
anode the survey saw is a finding, and a ship carries dozens. The ship's plan lists them. A
finding is *explained* by a declared fitting only where

1. it lies where the plan puts the fitting: within the plan's tolerance and half the fitting's
   length, along the ship beyond the survey's own stated along-ship uncertainty there; and
2. it is no larger than the fitting: at most ``height_margin_m`` higher than declared, and at most
   ``volume_factor`` times its declared volume;
3. the fitting explains no finding nearer to where the plan puts it (one finding per fitting).

A pack strapped beside an anode makes the finding larger than the anode, so it stays a finding
and says so ("beside declared anode A5 but larger than it"). An explained finding stays in the
outputs with all its evidence, marked as the fitting; the verdict counts only the others
(:func:`hullscan.report.verdict.inspection_verdict`). See docs/fittings.md.

The plan file (YAML or JSON)::

    tolerance_m: 0.5                 # optional: how far the plan's positions may be off
    frame_spacing_m: 0.7             # optional: for ``frame`` (else compare.scoring.frame_spacing_m)
    fittings:
      - {id: A1, kind: anode, frame: 42, side: port, above_keel_m: 2.1, size_m: [0.8, 0.25, 0.08]}
      - {id: A2, kind: anode, x_from_stern_m: 29.4, side: starboard, off_centre_m: 3.0}
      - {id: T1, kind: transducer, at: [63.2, -4.1, -2.0], size_m: [0.4, 0.4, 0.05]}

``at`` is in the reference file's own coordinates (as findings.json gives positions); the ship
terms (``frame`` or ``x_from_stern_m``, ``side``, ``above_keel_m`` and/or ``off_centre_m``) are
placed on the reference's surface.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hullscan.errors import HullscanError
from hullscan.model import DeclaredFitting, Finding, FittingMatch, FittingsSummary, HullCloud

if TYPE_CHECKING:
    from hullscan.compare.config import CompareConfig
    from hullscan.compare.inspect import Inspection
    from hullscan.compare.reference import Reference

F64 = NDArray[np.float64]
# An anode of the common slab form (length along the ship, width, height proud of the plating).
DEFAULT_SIZE_M = (0.8, 0.25, 0.08)
# Half the width of the station band searched for the reference's surface at a fitting's x (m).
STATION_BAND_M = 0.5
# A fitting placed farther than this from the height or breadth its plan gives is not on the surveyed
# reference (above the waterline of a wetted-only mesh, off the hull's end): left out, with a note.
OFF_SURFACE_M = 0.5


class FittingsError(HullscanError):
    """A fittings plan that cannot be read or placed (names the file, the fitting and the field)."""


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    kind: str = "anode"
    size_m: tuple[float, float, float] = DEFAULT_SIZE_M
    at: tuple[float, float, float] | None = None
    frame: float | None = None
    x_from_stern_m: float | None = None
    side: Literal["port", "starboard"] | None = None
    above_keel_m: float | None = Field(None, ge=0.0)
    off_centre_m: float | None = Field(None, ge=0.0)

    @model_validator(mode="after")
    def _one_position(self) -> _Entry:
        if any(v <= 0 for v in self.size_m):
            raise ValueError("size_m: expected [length, width, height], each > 0")
        ship = self.frame is not None or self.x_from_stern_m is not None
        if self.at is not None and (ship or self.side is not None):
            raise ValueError("give either at: [x, y, z] or ship terms (frame or x_from_stern_m, side, above_keel_m), not both")
        if self.at is None:
            if not ship:
                raise ValueError("expected at: [x, y, z] (the reference file's coordinates) or frame / x_from_stern_m")
            if self.frame is not None and self.x_from_stern_m is not None:
                raise ValueError("give frame or x_from_stern_m, not both")
            if self.side is None:
                raise ValueError("side: expected port or starboard")
            if self.above_keel_m is None and self.off_centre_m is None:
                raise ValueError("expected above_keel_m (height above the keel) and/or off_centre_m (from the centreline)")
        return self


class _PlanFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    fittings: list[_Entry] = Field(min_length=1)
    tolerance_m: float | None = Field(None, ge=0.0, le=5.0)
    frame_spacing_m: float | None = Field(None, gt=0.0)
    frame_zero_x_m: float | None = None


@dataclass(frozen=True)
class Fitting:
    """One fitting as the plan gives it (positions as in :class:`_Entry`)."""

    id: str
    kind: str
    size_m: tuple[float, float, float]
    at: tuple[float, float, float] | None = None
    frame: float | None = None
    x_from_stern_m: float | None = None
    side: str | None = None
    above_keel_m: float | None = None
    off_centre_m: float | None = None

    @property
    def volume_m3(self) -> float:
        return float(np.prod(self.size_m))


@dataclass(frozen=True)
class FittingPlan:
    """The ship's declared fittings, read from ``source``."""

    source: str
    fittings: tuple[Fitting, ...]
    sha256: str = ""  # of the file as read: the plan the verdict rests on, for the case file
    tolerance_m: float | None = None
    frame_spacing_m: float | None = None
    frame_zero_x_m: float | None = None


def load_fittings(path: str | Path) -> FittingPlan:
    """The plan file at ``path``; :class:`FittingsError` names the file, the entry and the field."""
    import yaml

    p = Path(path)
    try:
        raw = p.read_bytes()
        data = yaml.safe_load(raw.decode("utf-8"))
    except OSError as err:
        raise FittingsError(f"{p}: cannot read the fittings plan: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        raise FittingsError(f"{p}: the fittings plan is not UTF-8 text (byte {err.start})") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise FittingsError(f"{p}: the fittings plan is not valid YAML/JSON{at}: {what}") from err
    if isinstance(data, list):  # a bare list of fittings
        data = {"fittings": data}
    if not isinstance(data, dict):
        raise FittingsError(f"{p}: expected a mapping {{fittings: [...]}} or a list of fittings, got "
                            f"{type(data).__name__}")
    try:
        doc = _PlanFile.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        loc = list(e["loc"])
        where = ".".join(str(x) for x in loc) or "(top level)"
        if len(loc) >= 2 and loc[0] == "fittings" and isinstance(loc[1], int):
            fid = data["fittings"][loc[1]].get("id") if isinstance(data["fittings"][loc[1]], dict) else None
            where += f" (fitting {fid})" if fid else ""
        raise FittingsError(f"{p}: {where}: {e['msg']}") from err
    ids = [f.id for f in doc.fittings]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise FittingsError(f"{p}: fittings: ids must be unique, {', '.join(dup)} repeated")
    fittings = tuple(Fitting(**f.model_dump()) for f in doc.fittings)
    return FittingPlan(str(p), fittings, hashlib.sha256(raw).hexdigest(), doc.tolerance_m, doc.frame_spacing_m,
                       doc.frame_zero_x_m)


def check_plan(plan: FittingPlan, config: CompareConfig, mirror: bool = False) -> None:
    """What can be told of ``plan`` before the survey is read: frames need a frame spacing, and
    mirror mode has no reference file for ``at`` (:class:`FittingsError` naming the fitting)."""
    spacing = plan.frame_spacing_m or config.scoring.frame_spacing_m
    for f in plan.fittings:
        if f.frame is not None and not spacing:
            raise FittingsError(f"{plan.source}: fitting {f.id}: frame needs the frame spacing (frame_spacing_m in the "
                                "plan, --frame-spacing, or compare.scoring.frame_spacing_m); or give x_from_stern_m")
        if f.at is not None and mirror:
            raise FittingsError(f"{plan.source}: fitting {f.id}: at: is in the reference file's coordinates, and "
                                "mirror mode has none; give frame or x_from_stern_m, side and above_keel_m")


def place_fittings(plan: FittingPlan, ins: Inspection, config: CompareConfig) -> tuple[F64, list[str]]:
    """Each fitting's centre in the internal hull frame (K, 3; NaN rows: not on the surveyed
    reference), and a note per fitting left out."""
    ref = ins.reference
    if ref is None:
        raise FittingsError(f"{plan.source}: the comparison has no reference to place the fittings on")
    check_plan(plan, config, ins.reference_kind == "mirror")
    spacing = plan.frame_spacing_m or config.scoring.frame_spacing_m
    zero = config.scoring.frame_zero_x_m if plan.frame_zero_x_m is None else plan.frame_zero_x_m
    out = np.full((len(plan.fittings), 3), np.nan)
    notes: list[str] = []
    for k, f in enumerate(plan.fittings):
        if f.at is not None:
            out[k] = ins.to_internal(np.asarray(f.at, float))
            continue
        x = float(f.x_from_stern_m) if f.x_from_stern_m is not None else zero + float(f.frame or 0.0) * float(spacing or 0.0)
        point, miss = _on_surface(ref, x, f)
        if point is None:
            notes.append(f"fittings: {f.id} ({f.kind}) is not on the surveyed reference ({miss}); it explains nothing")
            continue
        out[k] = point
    return out, notes


def _on_surface(ref: Reference, x: float, f: Fitting) -> tuple[F64 | None, str]:
    """The reference's surface sample at station ``x`` on ``f``'s side nearest its height above the
    keel and/or breadth off the centreline (None, why: none within :data:`OFF_SURFACE_M`)."""
    s = np.asarray(ref.samples, float)
    if not len(s):
        return None, "the reference has no surface"
    band = np.abs(s[:, 0] - x) <= STATION_BAND_M
    band &= (s[:, 1] >= 0) if f.side == "port" else (s[:, 1] < 0)
    if not band.any():
        return None, f"no {f.side} plating at {x:.1f} m from the stern; the hull runs {s[:, 0].min():.1f}-{s[:, 0].max():.1f} m"
    c = s[band]
    keel = float(s[:, 2].min())
    # The station counts as much as the height and breadth: on a curved stern, plating half a metre
    # aft may be at the plan's height and breadth too.
    cost = (c[:, 0] - x) ** 2
    if f.above_keel_m is not None:
        cost += (c[:, 2] - (keel + f.above_keel_m)) ** 2
    if f.off_centre_m is not None:
        cost += (np.abs(c[:, 1]) - f.off_centre_m) ** 2
    best = int(np.argmin(cost))
    if cost[best] > OFF_SURFACE_M**2:
        return None, f"the nearest {f.side} plating at {x:.1f} m from the stern is {np.sqrt(cost[best]):.1f} m from it"
    return np.asarray(c[best], np.float64), ""


def explain(findings: tuple[Finding, ...], plan: FittingPlan, centres: F64, config: CompareConfig
            ) -> tuple[tuple[Finding, ...], dict[str, list[str]], int]:
    """Each finding with the fitting beside it (``Finding.fitting``), the finding each fitting
    explains (by id; at most one), and how many findings lie beside a fitting without being explained.

    ``centres`` (K, 3): the fittings in the hull frame, as the findings' centroids are (NaN: not
    placed). Pairs are taken nearest first, and a fitting explains one finding only: a pack strapped
    beside an anode, read apart from it, is farther from where the plan puts the anode than the
    anode is, and the anode is already explained when the pack comes."""
    fc = config.fittings
    tol = fc.tolerance_m if plan.tolerance_m is None else plan.tolerance_m
    size = np.array([f.size_m for f in plan.fittings], float).reshape(-1, 3)
    reach = tol + 0.5 * size.max(axis=1) if len(size) else np.zeros(0)
    placed = np.all(np.isfinite(centres), axis=1)
    pairs: list[tuple[float, int, int]] = []  # (distance, finding, fitting) within reach
    for i, fnd in enumerate(findings):
        if not placed.any():
            break
        delta = np.abs(np.asarray(fnd.centroid, float) - centres[placed])
        # Along the ship, the survey's own stated uncertainty of its placement there.
        delta[:, 0] = np.maximum(delta[:, 0] - max(float(fnd.along_uncertainty_m or 0.0), 0.0), 0.0)
        d = np.linalg.norm(delta, axis=1)
        pairs += [(float(d[j]), i, int(k)) for j, k in enumerate(np.flatnonzero(placed)) if d[j] <= reach[k]]
    explains: dict[str, list[str]] = {f.id: [] for f in plan.fittings}
    match: dict[int, FittingMatch] = {}
    for d, i, k in sorted(pairs):
        if i in match and match[i].explained:
            continue
        fnd, fit = findings[i], plan.fittings[k]
        why = []
        if fnd.max_height_m > fit.size_m[2] + fc.height_margin_m:
            why.append(f"{100 * fnd.max_height_m:.0f} cm high against {100 * fit.size_m[2]:.0f} cm declared")
        if fnd.volume_m3 > fc.volume_factor * fit.volume_m3:
            why.append(f"{1000 * fnd.volume_m3:.0f} L against {1000 * fit.volume_m3:.0f} L declared")
        desc = f"declared {fit.kind} {fit.id}"
        if not why and not explains[fit.id]:
            explains[fit.id].append(fnd.id)
            match[i] = FittingMatch(fit.id, fit.kind, True, round(d, 3),
                                    f"matches {desc} ({_size(fit)}), {d:.2f} m from where the plan puts it and no "
                                    "larger: check its images show that fitting")
        elif i not in match:  # the nearest fitting it is beside says why it is not that fitting
            reason = (f"larger than it ({'; '.join(why)})" if why else
                      f"that {fit.kind} is {explains[fit.id][0]}, nearer to where the plan puts it")
            match[i] = FittingMatch(fit.id, fit.kind, False, round(d, 3),
                                    f"beside {desc}, {d:.2f} m away, but {reason}: not explained")
    out = tuple(replace(f, fitting=match[i]) if i in match else f for i, f in enumerate(findings))
    return out, explains, sum(1 for m in match.values() if not m.explained)


def _size(f: Fitting) -> str:
    return " x ".join(f"{v:g}" for v in f.size_m) + " m"


def apply_fittings(ins: Inspection, plan: FittingPlan) -> FittingsSummary:
    """The plan placed on ``ins``'s reference and its findings marked (in place); the summary is
    also kept on ``ins.fittings``."""
    centres, notes = place_fittings(plan, ins, ins.config)
    ins.findings, explains, beside = explain(ins.findings, plan, centres, ins.config)
    n_explained = sum(len(v) for v in explains.values())
    placed = np.all(np.isfinite(centres), axis=1)
    declared = tuple(
        DeclaredFitting(f.id, f.kind,
                        tuple(round(float(v), 3) for v in ins.to_user(centres[k])) if placed[k] else None,  # type: ignore[arg-type]
                        tuple(explains[f.id]), "" if placed[k] else "not on the surveyed reference")
        for k, f in enumerate(plan.fittings))
    one = n_explained == 1
    text = (f"{len(plan.fittings)} fittings declared ({Path(plan.source).name}): {n_explained} "
            f"{'finding matches one and is not counted as a compartment' if one else 'findings match one and are not counted as compartments'}")
    if beside:
        text += f"; {beside} beside one but not explained by it, counted"
    summary = FittingsSummary(plan.source, plan.sha256, len(plan.fittings), int(placed.sum()), n_explained, beside, text, declared)
    ins.fittings = summary
    ins.notes.extend(notes)
    ins.notes.append(text)
    return summary


def amend_with(plan: FittingPlan | None, then: Callable[[Inspection, HullCloud], None] | None = None
               ) -> Callable[[Inspection, HullCloud], None] | None:
    """The step between a finished comparison and its report (``hullscan.inspection.Amend``) that
    marks the plan's fittings on the findings, then runs ``then`` (the history's check); ``then``
    alone without a plan. compare, replay, batch and evaluate all take it from here."""
    if plan is None:
        return then

    def amend(ins: Inspection, cloud: HullCloud) -> None:
        apply_fittings(ins, plan)
        if then is not None:
            then(ins, cloud)

    return amend


def unexplained(findings: tuple[Finding, ...] | list[Any]) -> int:
    """How many findings no declared fitting explains: what the verdict counts."""
    n = 0
    for f in findings:
        fit: FittingMatch | None = getattr(f, "fitting", None)
        n += not (fit is not None and fit.explained)
    return n
