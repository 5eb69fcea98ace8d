"""What a batch is made of: the surveys to replay, the options they share, and what each gave.

Everything here crosses a process boundary (a pool worker or a Dask worker on another host), so
it is plain frozen dataclasses of strings and numbers: cheap to pickle, and equal on both sides.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from hullscan._version import __version__
from hullscan.errors import BatchError
from hullscan.inspection import ReferenceFile
from hullscan.outdir import DONE_MARKER

# DONE_MARKER is written last into a survey's output folder, once its replay has finished: its
# presence with the same fingerprint is what makes a rerun skip the survey. It is named in outdir,
# so that a replay run by hand into the folder takes it over (and removes the marker) instead of
# refusing it as a foreign file.


@dataclass(frozen=True)
class ReplayOptions:
    """The ``replay`` options every survey of a batch shares."""

    reference: ReferenceFile
    prior: str | None = None
    config: str | None = None
    frame_spacing: float | None = None
    camera: bool = True
    drift: bool = True
    case: str | None = None
    fittings: str | None = None  # the ship's anode plan (--fittings), for every survey of the batch


@dataclass(frozen=True)
class SurveyJob:
    """One survey of a batch: its bag, the folder its replay writes, and the shared options.

    ``threads``: numba threads for this survey (None: the worker's default); a worker that runs
    one survey per core must not also start a thread per core for each of them."""

    name: str
    bag: str
    out: str
    options: ReplayOptions
    fingerprint: str = ""
    threads: int | None = None


@dataclass(frozen=True)
class SurveyResult:
    """What one survey gave, one row of the summary. ``kind``: the verdict's kind (found,
    nothing_found, failed); ``skipped``: done by an earlier run of the batch and not redone."""

    name: str
    bag: str
    out: str
    kind: str
    verdict: str
    exit_code: int
    n_findings: int | None = None
    cleared_fraction: float | None = None
    seen_fraction: float | None = None
    wall_s: float = 0.0
    error: str | None = None
    skipped: bool = False
    worker: str = field(default="", compare=False)

    def as_dict(self) -> dict[str, str | int | float | bool | None]:
        return asdict(self)


def read_survey_list(path: str) -> list[str]:
    """The bags named in a ``--from`` list: one path a line, blank lines and ``#`` comments
    skipped; relative paths are taken from the list's own folder (a list travels with its bags)."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError as err:
        raise BatchError(f"{path}: survey list not found (--from expects a text file, one bag path a line)") from err
    except OSError as err:
        raise BatchError(f"{path}: cannot read the survey list ({err.strerror or err})") from err
    bags = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            bags.append(entry if Path(entry).is_absolute() else str(p.parent / entry))
    if not bags:
        raise BatchError(f"{path}: the survey list names no bag (one bag path a line; '#' starts a comment)")
    return bags


def survey_names(bags: list[str]) -> list[str]:
    """A folder name per bag: its own name, and where two bags share one, the name and a short hash
    of the full path. Independent of the bags' order, so a rerun finds the same folders."""
    stems = [_stem(b) for b in bags]
    names = []
    for bag, stem in zip(bags, stems, strict=True):
        if stems.count(stem) > 1:
            stem = f"{stem}-{hashlib.sha256(str(Path(bag).resolve()).encode()).hexdigest()[:8]}"
        names.append(stem)
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise BatchError(f"the same bag is named twice in the batch: {', '.join(dup)}")
    return names


def _stem(bag: str) -> str:
    p = Path(bag.rstrip("/"))
    name = p.name if p.suffix not in (".mcap", ".db3") else p.stem
    return name or "survey"


def check_bags(bags: list[str]) -> None:
    """Every bag exists (a typo fails the batch at once, before hours of work on the others)."""
    if not bags:
        raise BatchError("no survey to replay: name bags, or a list of them with --from LIST")
    missing = [b for b in bags if not Path(b).exists()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise BatchError(f"no such bag: {shown} (expected rosbag2 directories or .mcap/.db3 files)")


def _stat_signature(path: str | None) -> list[object]:
    """A file's or a bag folder's identity without reading it: names, sizes, modification times.
    Hashing the content of every bag on every rerun would cost minutes on an archive; a bag that
    is rewritten changes its size or time."""
    if path is None:
        return [None]
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    out: list[object] = [str(p.resolve())]
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        out.append([str(f.relative_to(p)) if p.is_dir() else f.name, st.st_size, st.st_mtime_ns])
    return out


def fingerprint(bag: str, options: ReplayOptions) -> str:
    """The input hash written in a survey's done-marker: the bag, the reference, prior, config,
    case and fittings files, every option and the software version. Any change redoes the survey."""
    ref = options.reference
    doc = {
        "version": __version__,
        "bag": _stat_signature(bag),
        "reference": _stat_signature(ref.path),
        "reference_options": [ref.units, ref.draft, ref.up, ref.bow, ref.trim],
        "prior": _stat_signature(options.prior),
        "config": _stat_signature(options.config),
        "case": _stat_signature(options.case),
        "fittings": _stat_signature(options.fittings),
        "options": [options.frame_spacing, options.camera, options.drift],
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def plan_jobs(bags: list[str], out: str, options: ReplayOptions, threads: int | None = None) -> list[SurveyJob]:
    """One job per bag, each into ``out/<name>``."""
    check_bags(bags)
    return [SurveyJob(name, bag, os.path.join(out, name), options, fingerprint(bag, options), threads)
            for name, bag in zip(survey_names(bags), bags, strict=True)]


def read_done(job: SurveyJob) -> SurveyResult | None:
    """The result an earlier run recorded for this survey, if it finished with the same inputs."""
    marker = Path(job.out) / DONE_MARKER
    try:
        doc = json.loads(marker.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("fingerprint") != job.fingerprint:
        return None  # inputs changed since (or a marker of another version): redo
    if not (Path(job.out) / "findings.json").is_file():
        return None
    try:
        row = SurveyResult(**doc["result"])
    except (KeyError, TypeError):
        return None
    return replace(row, skipped=True, worker="")


def write_done(job: SurveyJob, result: SurveyResult) -> None:
    """Mark the survey done, last, atomically: a survey killed before this line is redone."""
    from hullscan.outdir import write_text_atomic

    write_text_atomic(Path(job.out) / DONE_MARKER,
                      json.dumps({"fingerprint": job.fingerprint, "result": result.as_dict()}, indent=1))


def clear_done(job: SurveyJob) -> None:
    """Forget that a survey was done (before it is redone: its folder is then replay's alone)."""
    with contextlib.suppress(FileNotFoundError):
        (Path(job.out) / DONE_MARKER).unlink()
