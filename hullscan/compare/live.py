"""Live comparison: the growing hull map inspected against a reference, again and again.

:class:`LiveComparator` is what the comparator node (:mod:`hullscan.ros.comparator`) runs between
a map message in and the deviation, findings and coverage messages out, without ROS. The
navigation prior is searched over its uncertainty once; later inspections of the growing map
start from the last registration and only check and refine it (:data:`REGISTERED_SIGMA`). A
failed inspection searches from the prior again next time. On a re-dive (``earlier``: the first
dive's ``coverage.ply``) the coverage shown, the gaps and the next lane are what neither dive cleared.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hullscan.compare.analysis import Coverage
from hullscan.compare.config import CompareConfig
from hullscan.compare.earlier import EarlierCoverage, EarlierMasks, combined, on_samples
from hullscan.compare.fittings import FittingPlan, apply_fittings
from hullscan.compare.inspect import MIN_CLOUD_POINTS, Inspection, build_reference, inspect
from hullscan.compare.loading import load_reference as load_reference_file
from hullscan.compare.prior import (
    DEFAULT_SIGMA,
    REGISTERED_SIGMA,
    NavPrior,
    PriorSigma,
    held_along,
    load_prior,
)
from hullscan.compare.reference import Reference
from hullscan.errors import ConfigError, HullscanError
from hullscan.model import Finding, HullCloud, Transform

F64 = NDArray[np.float64]


def load_reference(spec: str, draft: float = 0.0, trim: float = 0.0, length: float = 0.0, units: str = "auto",
                   up: str = "auto", bow: str = "auto") -> Any:
    """A mesh (STL/OBJ/PLY) or a cloud file (an earlier clean scan), or the string ``mirror`` (for
    ``''`` too); ``draft`` > 0 is the ship's draft (m above the keel) for a mesh's waterline, ``trim``
    the aft minus the forward draft (m; 0: on an even keel), ``length`` > 0 the ship's length overall
    for a model-scale mesh (m; 0: not stated, as ``--length``); ``units``, ``up`` and ``bow`` as
    ``--units``, ``--up`` and ``--bow`` (``auto``: from the mesh)."""
    if draft < 0:
        raise ConfigError(f"draft {draft} m: expected metres above the keel (0 = unknown)")
    if length < 0:
        raise ConfigError(f"length {length} m: expected the ship's length overall in metres (0 = not stated)")
    if spec in ("", "mirror"):
        return "mirror"
    return load_reference_file(spec, units or "auto", draft=draft if draft > 0 else None, up=up or "auto",
                               bow=bow or "auto", trim=trim or None, length=length or None)


def hull_to_nav_from(values: list[float], file: str, reference: Any = None
                     ) -> tuple[Transform | None, PriorSigma | None]:
    """The navigation prior (nav <- the reference's internal hull frame) and the uncertainty the
    registration searches: ``file`` (a prior file as ``hullscan replay --prior``, read in the
    reference file's own frame, with its sigma or the default) or ``values`` (x y z qx qy qz qw,
    the reference file's frame, default sigma); (None, None) without either."""
    ref_from_hull: Transform | None = getattr(reference, "ref_from_hull", None)
    if file:
        prior = load_prior(file)
        if prior is None:
            return None, None
        if prior.form == "quay":
            raise ConfigError(f"{file}: a quay prior is placed at the survey's first fix: read it with quay_prior "
                              "and give it to LiveComparator (the comparator node does)")
        return prior.hull_to_nav(ref_from_hull), prior.search
    h = list(values)
    if len(h) != 7:
        return None, None
    tf = Transform(np.array(h[3:7]), np.array(h[:3]))
    return (tf if ref_from_hull is None else tf @ ref_from_hull), DEFAULT_SIGMA


def quay_prior(file: str, reference: Any, config: CompareConfig) -> NavPrior | None:
    """The quay notes' prior in ``file`` (what the dive team wrote on the quay: the ship's heading and
    where the vehicle went in, as ``hullscan replay --prior`` reads it), or None when ``file`` holds
    another kind of prior (or none). Live it is placed at the survey's first fix once the mapper's
    path gives it (:meth:`LiveComparator.first_fix`); it is checked here, so that notes that cannot
    be placed (a frame number without the frame spacing, no design mesh) stop the node at start."""
    prior = load_prior(file) if file else None
    if prior is None or prior.form != "quay":
        return None
    if not hasattr(reference, "faces"):
        raise ConfigError(f"{file}: a quay prior names a frame and side of the design hull; give a design mesh "
                          "as the reference, or a {translation, rotation} prior")
    sc = config.scoring
    prior.resolve(reference, np.zeros(3), sc.frame_spacing_m, sc.frame_zero_x_m)
    return prior


def node_prior(values: list[float], file: str, reference: Any, config: CompareConfig
               ) -> tuple[Transform | None, PriorSigma | None, NavPrior | None]:
    """The comparator node's prior: (hull_to_nav, sigma, None) as :func:`hull_to_nav_from` reads it, or
    (None, None, the quay notes) for :class:`LiveComparator` to place at the survey's first fix."""
    quay = quay_prior(file, reference, config)
    return (None, None, quay) if quay is not None else (*hull_to_nav_from(values, file, reference), None)


log = logging.getLogger("hullscan.compare")


# Said in every live report: the live map's navigation is not corrected against the reference until the
# survey's end, so on a drifting survey its placement and findings are provisional until then
# (bench/results/live_quay_registration.md).
LIVE_NOTE = ("live inspection of the mapper's map: its navigation drift is not corrected against the reference "
             "(the mapper does that at the survey's end; hullscan replay of the survey's bag does it too, and is "
             "the record); findings and positions here are the operator's view")


# What the end-of-survey correction was made against in mirror mode (``/hullscan/final_map``'s ``against``).
BETWEEN_PASSES = "its own passes (mirror mode)"


def live_note(final: bool, drift: dict[str, Any] | None) -> str:
    """The live report's note: :data:`LIVE_NOTE`, or for the final map whose drift the mapper
    corrected (``drift``: its ``/hullscan/final_map`` summary) what that did."""
    if not final or not drift or not drift.get("corrected"):
        why = f" (at the survey's end it was not: {drift.get('why')})" if final and drift and drift.get("why") else ""
        return LIVE_NOTE + why
    if drift.get("against") == BETWEEN_PASSES:
        return (f"live inspection of the mapper's final map: its navigation drift corrected at the survey's end "
                f"between the survey's own passes (mirror mode; {drift.get('aligned')} of {drift.get('submaps')} "
                f"submaps aligned, largest correction {drift.get('largest_correction_m')} m), as hullscan replay "
                "corrects it in mirror mode; the replay of the survey's bag is the record")
    return (f"live inspection of the mapper's final map: its navigation drift corrected at the survey's end against "
            f"{Path(str(drift.get('against'))).name} as the comparator placed it ({drift.get('aligned')} of "
            f"{drift.get('submaps')} submaps aligned, largest correction {drift.get('largest_correction_m')} m), as "
            "hullscan replay corrects it; the replay of the survey's bag is the record")


@dataclass(frozen=True)
class Banner:
    """The line RViz shows over the findings (``ns=hullscan_status``): which navigation the map they
    sit on rests on. ``corrected``: drift corrected (the survey's end); otherwise the positions are
    the recorded navigation's, and drift moves them by up to its share of the distance travelled."""

    text: str
    corrected: bool


# The final map's banner before the mapper has said what its end of survey did.
FINAL_AWAITING = "FINAL MAP: awaiting the mapper's word on navigation drift"


def live_banner(final: bool, drift: dict[str, Any] | None) -> Banner:
    """:class:`Banner` for an inspection of the survey's map (``final``: the mapper's final map;
    ``drift``: its ``/hullscan/final_map`` summary), the short form of :func:`live_note`."""
    if final and drift and drift.get("corrected"):
        against = ("between its own passes (mirror mode)" if drift.get("against") == BETWEEN_PASSES
                   else f"against {Path(str(drift.get('against'))).name}")
        return Banner(f"final map: navigation drift corrected {against} ({drift.get('aligned')} of "
                      f"{drift.get('submaps')} submaps)", True)
    if final:
        if drift is None:
            # The mapper's /hullscan/final_map summary and its final map come on different topics, in no
            # guaranteed order: until the summary comes, say neither corrected nor not (republished then).
            return Banner(FINAL_AWAITING, False)
        why = f": {drift.get('why')}" if drift.get("why") else ""
        return Banner(f"FINAL MAP ON RECORDED NAVIGATION: drift not corrected{why}; replay the bag for the record",
                      False)
    # Short: RViz draws it as one line over the hull. The drift is a share of the distance travelled.
    return Banner("RECORDED NAVIGATION: drift not corrected yet (corrected at the survey's end)", False)


@dataclass(frozen=True)
class LiveResult:
    """One inspection of the live map, ready to publish: the placement of the reference in the
    navigation frame (``hull_to_nav``), the findings, deviation per map point (NaN where not
    judged, all NaN when the inspection failed) and where the reference was not seen (nav frame)."""

    cloud: HullCloud
    final: bool
    hull_to_nav: Transform
    inspect_s: float
    inspection: Inspection | None = None  # None when it failed
    error: str = ""  # why it failed: "<ErrorType>: <message>"
    findings: tuple[Finding, ...] = ()
    deviation: F64 | None = None
    coverage: float | None = None  # share of the reference samples cleared
    unseen_nav: F64 = field(default_factory=lambda: np.zeros((0, 3)))      # never observed
    uncertain_nav: F64 = field(default_factory=lambda: np.zeros((0, 3)))   # observed, too uncertain to clear
    # of those, where another pass alone may not clear it (Coverage.not_by_a_pass: uneven surface, the
    # reference's relief beside it, plating reading low)
    uneven_nav: F64 = field(default_factory=lambda: np.zeros((0, 3)))
    cell_m: float = 0.25  # the reference samples' spacing
    # The coverage shown (markers, gaps, next lane): this inspection's, with an earlier dive's cleared
    # surface on a re-dive; the inspection's own stays its evidence. None without coverage.
    view: Coverage | None = None

    @property
    def ok(self) -> bool:
        return self.inspection is not None

    @property
    def status(self) -> str:
        return self.inspection.status if self.inspection is not None else "failed"


def without_global_search(config: CompareConfig) -> CompareConfig:
    """``config`` without the global registration (FPFH + RANSAC) where a prior does not fit."""
    if not config.alignment.global_registration:
        return config
    return config.model_copy(update={"alignment": config.alignment.model_copy(update={"global_registration": False})})


class LiveComparator:
    """Inspects the live map against ``reference`` (a loaded mesh or cloud, or ``"mirror"``) from the
    navigation prior ``hull_to_nav`` (searched over ``sigma``), then from its own registration."""

    def __init__(self, reference: Any, config: CompareConfig, hull_to_nav: Transform | None = None,
                 sigma: PriorSigma | None = None, fittings: FittingPlan | None = None,
                 earlier: EarlierCoverage | None = None, quay: NavPrior | None = None) -> None:
        if hull_to_nav is not None or quay is not None:
            # Live, a prior that does not fit is an ERROR within an inspection period; the global
            # search (FPFH + RANSAC) that replay runs to explain a misfit takes over a minute on 2
            # cores and would keep the operator looking at a stale "ok" meanwhile.
            config = without_global_search(config)
        self.reference, self.config = reference, config
        self.hull_to_nav, self.sigma = hull_to_nav, sigma
        self.quay = quay  # quay notes (quay_prior), placed at the survey's first fix (first_fix)
        self.fittings = fittings  # the ship's declared fittings: the findings they explain are marked
        self.earlier = earlier  # a re-dive: what the first dive left (coverage.ply)
        # ... on the reference's samples, matched once: they stay where they are between inspections.
        self._before: EarlierMasks | None = None
        self.registered: Transform | None = None  # the last registration (nav <- hull), once there is one
        self.registered_sigma = REGISTERED_SIGMA  # ... and the range it is refined within
        self.inspection: Inspection | None = None  # the last successful one
        self.inspected_final = False  # ... was of the survey's final map
        self.map_drift: dict[str, Any] | None = None  # what the mapper's end of survey did (/hullscan/final_map)
        self._placement = ""  # the placement last published

    def first_fix(self, position: F64) -> bool:
        """Place the quay notes' prior at the survey's first navigation fix (``position``, (3,), the
        navigation frame), as ``hullscan replay`` places it at the bag's: once; True when it did."""
        if self.quay is None or self.hull_to_nav is not None:
            return False
        sc = self.config.scoring
        placed = self.quay.resolve(self.reference, np.asarray(position, np.float64), sc.frame_spacing_m,
                                   sc.frame_zero_x_m)
        self.hull_to_nav, self.sigma = placed.hull_to_nav(getattr(self.reference, "ref_from_hull", None)), placed.search
        return True

    def placement(self, reference_spec: dict[str, Any]) -> dict[str, Any] | None:
        """Where the reference is placed in the navigation frame (nav <- hull, internal frame), for
        the mapper's drift correction at the survey's end (:class:`DriftReference`): the prior with its
        uncertainty, and the registration kept from the inspections (None until there is one); None
        without a prior (quay notes not yet placed). In mirror mode it says so (``mirror``): there is no
        reference to place, and the mapper corrects drift between the survey's passes, as replay does."""
        if isinstance(self.reference, str) and self.reference == "mirror":
            return {"reference": reference_spec, "mirror": True, "prior": None, "registered": None}
        if self.hull_to_nav is None:
            return None
        return {"reference": reference_spec,
                "prior": {"hull_to_nav": self.hull_to_nav.as_dict(),
                          "sigma": self.sigma.as_dict() if self.sigma is not None else None},
                "registered": {"hull_to_nav": self.registered.as_dict()} if self.registered is not None else None}

    def placement_update(self, reference_spec: dict[str, Any]) -> str:
        """:meth:`placement` as JSON when it changed since the last call ('' when not, or none)."""
        doc = self.placement(reference_spec)
        data = json.dumps(doc) if doc is not None else ""
        if data == self._placement:
            return ""
        self._placement = data
        return data

    def final_map(self, data: str) -> bool:
        """The mapper's ``/hullscan/final_map`` (JSON): what its end of survey did, for the report's note
        and the banner; True when the final map was inspected before it came (its banner is stale)."""
        self.map_drift = json.loads(data).get("drift")
        return self.inspected_final

    def banner(self) -> Banner:
        """The banner over the last inspection's findings (:func:`live_banner`)."""
        return live_banner(self.inspected_final, self.map_drift)

    def report_note(self) -> str:
        """The live report's note on the map its inspection rests on (:func:`live_note`)."""
        return live_note(self.inspected_final, self.map_drift)

    def wait_reason(self, cloud: HullCloud, final: bool) -> str:
        """Why ``cloud`` is not inspected yet ('' when it is): the survey has only begun, and too
        little map is a wait, not a failed inspection (the final map is inspected whatever its size);
        quay notes wait for the survey's first fix."""
        if self.quay is not None and self.hull_to_nav is None:
            return "waiting for the survey's first navigation fix (/hullscan/path) to place the quay notes' prior"
        if len(cloud) < MIN_CLOUD_POINTS and not final:
            return f"hull map has {len(cloud)} points so far; inspecting from {MIN_CLOUD_POINTS}"
        return ""

    def _inspect(self, cloud: HullCloud) -> Inspection:
        """From the last registration when there is one (only refined), else from the prior
        (searched over its sigma). A registration that no longer fits is dropped and the prior
        searched again at once: one made on the survey's first few hundred points can be off along
        the ship, and the grown map must not fail for it."""
        if self.registered is not None:
            try:
                return inspect(cloud, self.reference, self.config, hull_to_nav=self.registered,
                               sigma=self.registered_sigma if self.sigma is not None else None)
            except HullscanError as err:
                log.warning("the last registration does not fit the grown map (%s); searching from the prior "
                            "again", err)
                self.registered, self.registered_sigma = None, REGISTERED_SIGMA
        return inspect(cloud, self.reference, self.config, hull_to_nav=self.hull_to_nav,
                       sigma=self.sigma if self.hull_to_nav is not None else None)

    def inspect(self, cloud: HullCloud, final: bool = False) -> LiveResult:
        """Inspect ``cloud`` (the navigation frame); a failure is a result with ``error`` set."""
        t0 = time.perf_counter()
        try:
            ins = self._inspect(cloud)
        except HullscanError as err:
            self.inspection = None  # its findings belong to a map that is no longer the current one
            return LiveResult(cloud, final, self.hull_to_nav or Transform(), time.perf_counter() - t0,
                              error=f"{type(err).__name__}: {err}",
                              deviation=np.full(len(cloud), np.nan))
        if self.fittings is not None:
            apply_fittings(ins, self.fittings)
        inspect_s = time.perf_counter() - t0
        self.inspection, self.inspected_final = ins, final
        reg = ins.alignment.registration if ins.alignment is not None else None
        # A registration the map cannot fix along the ship (a first few hundred points on a parallel
        # midbody) is reported as such, but not refined from next time: the grown map is searched
        # from the prior again until it fixes the position.
        if self.hull_to_nav is not None and ins.cloud_to_ref is not None and not (reg and reg.along_ambiguous):
            self.registered = ins.cloud_to_ref.inverse()
            # A position along the ship that relief fixed (an anode row) is kept to that, as replay keeps
            # the drift stage's: the plating's own tie range says nothing against it.
            if reg is not None and reg.relief is not None:
                self.registered_sigma = held_along(REGISTERED_SIGMA, reg.relief.sigma_m, reg.relief.valley_sigma_m)
        h2n = ins.cloud_to_ref.inverse() if ins.cloud_to_ref is not None else (self.hull_to_nav or Transform())
        dev = ins.deviation if ins.deviation is not None and len(ins.deviation) == len(cloud) else None
        cov = ins.coverage
        if cov is None or not len(cov.seen):
            return LiveResult(cloud, final, h2n, inspect_s, ins, findings=tuple(ins.findings), deviation=dev)
        if self.earlier is not None:
            if self._before is None or len(self._before.seen) != len(cov.samples):
                self._before = on_samples(self.earlier, ins.to_user(cov.samples), cov.sample_area)
            cov = combined(cov, self._before)
        samples = np.asarray(cov.samples, np.float64).reshape(-1, 3)
        seen = np.asarray(cov.seen, bool)
        seen_any = np.asarray(cov.seen_any if cov.seen_any is not None else seen, bool)
        stuck = cov.not_by_a_pass
        return LiveResult(cloud, final, h2n, inspect_s, ins, findings=tuple(ins.findings), deviation=dev,
                          coverage=float(np.mean(seen)), unseen_nav=h2n.apply(samples[~seen_any]),
                          uncertain_nav=h2n.apply(samples[seen_any & ~seen & ~stuck]),
                          uneven_nav=h2n.apply(samples[stuck]), cell_m=float(np.sqrt(cov.sample_area)), view=cov)


__all__ = ["BETWEEN_PASSES", "FINAL_AWAITING", "LIVE_NOTE", "READ_AS", "Banner", "DriftReference", "FirstThatFits", "LiveComparator", "LiveResult", "OcclusionReference", "hull_to_nav_from",
           "live_banner", "live_note", "load_reference",
           "node_prior", "occlusion_reference", "quay_prior", "read_reference", "reference_spec"]


def occlusion_reference(spec: str, config: CompareConfig, draft: float = 0.0, trim: float = 0.0,
                        length: float = 0.0, units: str = "auto", up: str = "auto", bow: str = "auto"
                        ) -> Reference | None:
    """The reference as the comparator builds it, for the line-of-sight check (None for ``''`` or
    ``mirror``): read as the comparator read it (see :func:`load_reference`), since the draft and the
    axes set the hull frame, which the comparator's ``hull_to_nav`` places; raises HullscanError when
    it cannot be read."""
    if spec in ("", "mirror"):
        return None
    return build_reference(load_reference(spec, draft, trim, length, units, up, bow), config)


# How a reference file is read, besides its path: the comparator node's parameters of the same names.
READ_AS: dict[str, float | str] = {"draft": 0.0, "trim": 0.0, "length": 0.0, "units": "auto", "up": "auto", "bow": "auto"}


def read_reference(spec: dict[str, Any]) -> Any:
    """The reference a :func:`reference_spec` describes, read as it says (:func:`load_reference`)."""
    return load_reference(str(spec["path"]), **{k: spec[k] for k in READ_AS})


def reference_spec(path: str, params: dict[str, Any]) -> dict[str, Any]:
    """How the comparator read its reference (``path`` and its ``params`` named in :data:`READ_AS`), as
    its findings documents carry it (``reference``), so that the camera node reads the same hull in
    the same frame (:class:`OcclusionReference`)."""
    return {"path": path, **{k: float(params.get(k, v)) if isinstance(v, float) else str(params.get(k, v) or v)
                             for k, v in READ_AS.items()}}


class OcclusionReference:
    """The camera node's line-of-sight reference, read as the comparator read its own: the hull the
    findings document names with its draft, trim and length (``param``: the camera node's
    ``reference``; ``''`` takes the document's path, ``none`` turns the check off, another path is
    read with the document's settings). Read again only when those change."""

    def __init__(self, param: str, config: CompareConfig) -> None:
        self.param, self.config = param, config
        self.key: tuple[Any, ...] | None = None
        self.reference: Reference | None = None

    def for_document(self, doc: dict[str, Any]) -> Reference | None:
        """The reference for a findings document (``/hullscan/findings_json``); raises HullscanError
        when the named file cannot be read (the check is then off until the next document)."""
        if self.param == "none":
            return None
        spec = reference_spec(self.param or str((doc.get("reference") or {}).get("path") or ""),
                              doc.get("reference") or {})
        key = tuple(spec.values())
        if key != self.key:
            self.key, self.reference = key, None  # a file that fails is not read again for every document
            self.reference = occlusion_reference(spec.pop("path"), self.config, **spec)
        return self.reference


class DriftReference:
    """The mapper's end-of-survey drift reference: the hull the comparator reads, placed where the
    comparator places it (its ``/hullscan/placement`` document, :meth:`LiveComparator.placement`), for
    the replay's drift correction. First the prior, searched over its uncertainty exactly as replay
    searches it (the same placement, the same survey: the live map's end is the replay's); where that
    fails, the registration the comparator kept, refined within :data:`REGISTERED_SIGMA`
    (:class:`FirstThatFits`). The file is read only at the survey's end."""

    def __init__(self, config: CompareConfig) -> None:
        # No global search where a placement does not fit: it takes minutes on 2 cores, and the
        # survey's final map would wait for it (the map is then finished as recorded, and says why).
        self.config = without_global_search(config)
        self.document: dict[str, Any] | None = None  # the comparator's latest placement
        # Mirror mode: no reference to place; the survey's passes are aligned to each other instead.
        self.between_passes = False

    def offer(self, doc: dict[str, Any]) -> bool:
        """Keep ``doc`` if it places a reference file (a prior, or a registration), or says the
        comparator compares the hull with its own mirror (:attr:`between_passes`); True then."""
        if doc.get("mirror"):
            self.document, self.between_passes = None, True
            return True
        path = str((doc.get("reference") or {}).get("path") or "")
        if path in ("", "mirror") or not (doc.get("registered") or doc.get("prior")):
            return False
        self.document, self.between_passes = doc, False
        return True

    @property
    def name(self) -> str:
        if self.between_passes:
            return BETWEEN_PASSES
        return str(self.document["reference"]["path"]) if self.document is not None else ""

    def placed(self) -> Any:
        """The reference in the navigation frame, as :class:`FirstThatFits` of the placements, or None
        before any placement; raises HullscanError when the file cannot be read."""
        from hullscan.compare.navref import nav_reference

        if self.document is None:
            return None
        doc = self.document
        placements = [(Transform.from_dict(doc["prior"]["hull_to_nav"]),
                       PriorSigma.from_dict(doc["prior"]["sigma"]) if doc["prior"].get("sigma") else None)
                      ] if doc.get("prior") else []
        if doc.get("registered"):
            placements.append((Transform.from_dict(doc["registered"]["hull_to_nav"]), REGISTERED_SIGMA))
        # The reference surface is built once (a ship's mesh: seconds) and placed each way.
        first = nav_reference(read_reference(doc["reference"]), placements[0][0], str(doc["reference"]["path"]),
                              placements[0][1], self.config)
        return FirstThatFits((first, *(replace(first, hull_to_nav=h, sigma=sg) for h, sg in placements[1:])))


@dataclass(frozen=True)
class FirstThatFits:
    """Placed references tried in turn: the first whose registration of the survey fits is the one
    drift is corrected against (a :class:`hullscan.recon.drift.SurfaceReference` until then)."""

    placements: tuple[Any, ...]

    @property
    def sigma(self) -> object | None:
        """Not None where a placement is to be searched: correct_drift then calls :meth:`registered`."""
        return next((p.sigma for p in self.placements if p.sigma is not None), None)

    def registered(self, survey: Any) -> tuple[Any, object]:
        errors: list[str] = []
        for ref in self.placements:
            try:
                return (ref, None) if ref.sigma is None else ref.registered(survey)
            except HullscanError as err:
                errors.append(str(err))
        raise HullscanError("; then ".join(errors) or "no placement of the reference to correct drift against")

    def closest(self, p: F64, dist: float) -> Any:
        return self.placements[0].closest(p, dist)

    def cost(self, p: F64, c: float) -> float:
        return float(self.placements[0].cost(p, c))

    def along(self) -> Any:
        return self.placements[0].along()
