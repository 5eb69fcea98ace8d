"""The navigation prior: what a dive team knows on the quay of where the ship lies.

Two forms, read from JSON or YAML (:func:`load_prior`):

* **transform** - ``{translation: [x, y, z], rotation: [x, y, z, w]}`` (or ``yaw_deg`` instead
  of ``rotation``): the reference file's own frame (its axes and origin, in metres after unit
  scaling) placed in the navigation frame, ``nav <- reference``. An object under a
  ``hull_to_nav`` key is read the same way.
* **quay** - ``{ship_heading_deg, start: {frame | x_from_stern_m, side, depth_m, standoff_m}}``:
  the ship's gyro heading (degrees clockwise from north; the navigation frame is ENU, REP 103,
  with z = 0 at the sea surface) and where the vehicle was when the survey started. It is turned
  into a transform once the reference hull and the first navigation fix are known
  (:meth:`NavPrior.resolve`).

Either form may carry ``sigma: {along_m, across_m, vertical_m, heading_deg}``, the team's
uncertainty. Without it, :data:`DEFAULT_SIGMA` applies, which is the registration's capture
range (5 m along the ship, 2 m across, 10 degrees of heading): the registration searches that
range, so a prior that is good to those limits always converges.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.spatial.transform import Rotation

from hullscan.errors import HullscanError
from hullscan.model import Transform

if TYPE_CHECKING:
    from hullscan.hull.mesh import HullMesh

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class PriorSigma:
    """1-sigma-like bounds of the prior's error, in ship terms (the registration searches +/- these)."""

    along_m: float = 5.0
    across_m: float = 2.0
    vertical_m: float = 0.5
    heading_deg: float = 10.0
    # Where the bounds hold, in the navigation frame: a quay prior is known at the survey's start
    # (the first fix), and its heading error turns the rest of the survey about that point, so a
    # 2 deg error puts the far end of a 250 m survey 9 m across. None: at the survey's centre.
    about_nav: tuple[float, float, float] | None = None
    # The position along the ship already fixed to this 1 sigma (m) by reference relief the survey
    # saw (the drift stage's registration): the reported along-ship range is that, not the range
    # over which the plating alone fits as well. None: the plating's range stands.
    along_fixed_m: float | None = None

    @property
    def exact(self) -> bool:
        """All zero: the placement is known exactly (a surveyed berth); it is refined, not searched."""
        return self.along_m == self.across_m == self.vertical_m == self.heading_deg == 0.0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PriorSigma:
        """Read back what :meth:`as_dict` wrote (a findings document's ``prior_sigma``)."""
        about = d.get("about_nav")
        return cls(float(d["along_m"]), float(d["across_m"]), float(d["vertical_m"]), float(d["heading_deg"]),
                   None if about is None else (float(about[0]), float(about[1]), float(about[2])),
                   None if d.get("along_fixed_m") is None else float(d["along_fixed_m"]))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"along_m": self.along_m, "across_m": self.across_m, "vertical_m": self.vertical_m,
                               "heading_deg": self.heading_deg}
        if self.about_nav is not None:
            out["about_nav"] = [round(v, 3) for v in self.about_nav]
        if self.along_fixed_m is not None:
            out["along_fixed_m"] = round(self.along_fixed_m, 3)
        return out


def held_along(sigma: PriorSigma, fixed_m: float, search_m: float | None = None) -> PriorSigma:
    """``sigma`` with the position along the ship fixed to ``fixed_m`` (1 sigma, m) by reference relief:
    reported as that range (:attr:`PriorSigma.along_fixed_m`) and searched no further than
    ``search_m`` (the relief's valley, which may be narrower than what is stated; default ``fixed_m``)."""
    search = fixed_m if search_m is None else min(search_m, fixed_m)
    return replace(sigma, along_m=min(search, sigma.along_m), along_fixed_m=fixed_m)


DEFAULT_SIGMA = PriorSigma()
# A prior that an earlier registration produced (the drift stage's): only a fine check is needed.
REGISTERED_SIGMA = PriorSigma(0.5, 0.3, 0.3, 1.0)
# A quay start's across sigma grows by the change of half breadth within its along sigma, from this.
ACROSS_FROM_ALONG_MIN_M = 0.25


@dataclass(frozen=True)
class QuayStart:
    """Where the vehicle was at the start of the survey, in ship terms."""

    x_from_stern_m: float | None = None
    frame: float | None = None
    side: str = "starboard"
    depth_m: float = 2.0
    standoff_m: float = 3.0
    # A start under the bottom: how far to ``side`` of the keel line the vehicle went in (m). The side
    # and the standoff alone put it beside the centreline plane, which on a wide flat bottom can be
    # metres from where a lane across the bottom began. None: not noted.
    off_centreline_m: float | None = None


@dataclass(frozen=True, eq=False)
class NavPrior:
    """The navigation prior and its uncertainty.

    ``ref_to_nav`` places the reference file's own frame in the navigation frame (None for a
    quay prior not yet resolved). ``form`` is ``transform`` or ``quay``; ``source`` names the file.
    """

    ref_to_nav: Transform | None
    sigma: PriorSigma = DEFAULT_SIGMA
    form: str = "transform"
    source: str = ""
    ship_heading_deg: float | None = None
    start: QuayStart | None = None
    sigma_stated: bool = False

    @property
    def search(self) -> PriorSigma | None:
        """The uncertainty the registration searches, None for an exact prior."""
        return None if self.sigma.exact else self.sigma

    def hull_to_nav(self, ref_from_hull: Transform | None) -> Transform:
        """``nav <- hull`` for a reference whose internal hull frame maps to its file frame by ``ref_from_hull``."""
        if self.ref_to_nav is None:
            raise HullscanError(f"{self.source}: a quay prior must be resolved against the reference hull and "
                                "the first navigation fix first (hullscan replay does this)")
        return self.ref_to_nav if ref_from_hull is None else self.ref_to_nav @ ref_from_hull

    def resolve(self, mesh: HullMesh, first_fix: F64, frame_spacing_m: float | None,
                frame_zero_x_m: float = 0.0) -> NavPrior:
        """A quay prior turned into a transform: the first fix (nav frame, ENU) is the start point."""
        if self.form != "quay" or self.start is None or self.ship_heading_deg is None:
            return self
        st = self.start
        if st.x_from_stern_m is not None:
            x = float(st.x_from_stern_m)
        elif st.frame is not None:
            if not frame_spacing_m:
                raise HullscanError(f"{self.source}: start.frame needs the frame spacing (--frame-spacing, or "
                                    "compare.scoring.frame_spacing_m in the config); or give start.x_from_stern_m")
            x = frame_zero_x_m + float(st.frame) * frame_spacing_m
        else:
            raise HullscanError(f"{self.source}: start: expected frame or x_from_stern_m")
        z = -float(st.depth_m)
        sign = 1.0 if st.side == "port" else -1.0
        half = _half_breadth(mesh, x, z, sign)
        across = st.off_centreline_m if st.off_centreline_m is not None else half + st.standoff_m
        hull_pt = np.array([x, sign * across, z])
        # The station is uncertain by the along sigma; where the hull's breadth changes within it (the
        # ends of the ship, a transom), the start is as uncertain across: the search must cover that.
        along = self.sigma.along_m
        spread = max(abs(_half_breadth(mesh, x + f * along, z, sign) - half) for f in (-1.0, -0.5, 0.5, 1.0))
        sigma = self.sigma
        if spread > ACROSS_FROM_ALONG_MIN_M and not sigma.exact:
            sigma = replace(sigma, across_m=round(sigma.across_m + spread, 2))
        p0 = np.asarray(first_fix, float)
        if not sigma.exact:
            # The notes hold at the start point: the registration turns its heading seeds about it.
            sigma = replace(sigma, about_nav=(float(p0[0]), float(p0[1]), float(p0[2])))
        # ENU yaw of the ship's bow from the gyro heading (clockwise from north).
        yaw = np.deg2rad(90.0 - float(self.ship_heading_deg))
        rot = Rotation.from_euler("z", yaw)
        t = p0 - rot.apply(hull_pt)
        t[2] = 0.0  # the hull's waterline is the sea surface, z = 0 of the navigation frame
        hull_to_nav = Transform(rot.as_quat(), t)
        ref_from_hull = mesh.ref_from_hull or Transform()
        return replace(self, ref_to_nav=hull_to_nav @ ref_from_hull.inverse(), sigma=sigma)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"form": self.form, "source": self.source, "sigma": self.sigma.as_dict(),
                               "sigma_stated": self.sigma_stated}
        if self.ref_to_nav is not None:
            out["reference_to_nav"] = {"translation": np.round(self.ref_to_nav.translation, 4).tolist(),
                                       "rotation": np.round(self.ref_to_nav.rotation, 8).tolist()}
        if self.form == "quay":
            out["ship_heading_deg"] = self.ship_heading_deg
            out["start"] = None if self.start is None else self.start.__dict__
        return out


def _half_breadth(mesh: HullMesh, x: float, z: float, sign: float) -> float:
    """Half breadth of the hull at station ``x`` and height ``z`` on the side ``sign`` (+1 port).

    Where the hull does not reach that height at that station (off its ends, or below its bottom
    there), the nearest station that does, as the simulator and the planner lay lanes (standoff from
    the plating at that height); 0 where no station does (the standoff is from the centreline plane).
    """
    import open3d as o3d

    scene = mesh.raycasting_scene()
    far = 4.0 * max(mesh.beam, 1.0)
    xs = np.r_[x, np.linspace(float(mesh.vertices[:, 0].min()), float(mesh.vertices[:, 0].max()), 400)]
    rays = np.column_stack([xs, np.full_like(xs, sign * far), np.full_like(xs, z), np.zeros_like(xs),
                            np.full_like(xs, -sign), np.zeros_like(xs)]).astype(np.float32)
    core: Any = o3d.core
    hit = scene.cast_rays(core.Tensor(rays))["t_hit"].numpy().astype(np.float64)
    ok = np.isfinite(hit)
    if ok[0]:
        return float(far - hit[0])
    if not ok.any():
        return 0.0
    near = np.flatnonzero(ok)[np.argmin(np.abs(xs[ok] - x))]
    return float(far - hit[near])


def _num(data: dict[str, Any], key: str, where: str) -> float:
    try:
        v = float(data[key])
    except (KeyError, TypeError, ValueError) as err:
        raise HullscanError(f"{where}: {key}: expected a number, got {data.get(key)!r}") from err
    if not np.isfinite(v):
        raise HullscanError(f"{where}: {key}: expected a finite number, got {v}")
    return v


def _sigma(data: dict[str, Any], where: str) -> tuple[PriorSigma, bool]:
    s = data.get("sigma")
    if s is None:
        return DEFAULT_SIGMA, False
    if not isinstance(s, dict):
        raise HullscanError(f"{where}: sigma: expected {{along_m, across_m, vertical_m, heading_deg}}")
    unknown = set(s) - {"along_m", "across_m", "vertical_m", "heading_deg"}
    if unknown:
        raise HullscanError(f"{where}: sigma: unknown key(s) {sorted(unknown)} (expected along_m, across_m, "
                            "vertical_m, heading_deg)")
    vals = {k: _num(s, k, f"{where}: sigma") for k in s}
    if any(v < 0 for v in vals.values()):
        raise HullscanError(f"{where}: sigma: expected values >= 0, got {vals}")
    return PriorSigma(along_m=vals.get("along_m", DEFAULT_SIGMA.along_m),
                      across_m=vals.get("across_m", DEFAULT_SIGMA.across_m),
                      vertical_m=vals.get("vertical_m", DEFAULT_SIGMA.vertical_m),
                      heading_deg=vals.get("heading_deg", DEFAULT_SIGMA.heading_deg)), True


def parse_prior(data: Any, where: str) -> NavPrior:
    """A :class:`NavPrior` from a decoded JSON/YAML object; ``where`` names it in errors."""
    if not isinstance(data, dict):
        raise HullscanError(f"{where}: expected a mapping (a transform or a quay prior), got {type(data).__name__}")
    if isinstance(data.get("prior"), dict):  # operator notes: {draft_m, prior: {...}}
        data = data["prior"]
    sigma, stated = _sigma(data, where)
    if "ship_heading_deg" in data:
        start = data.get("start")
        if not isinstance(start, dict):
            raise HullscanError(f"{where}: start: expected {{frame or x_from_stern_m, side, depth_m, standoff_m}}")
        side = str(start.get("side", "starboard"))
        if side not in ("port", "starboard"):
            raise HullscanError(f"{where}: start.side: expected port or starboard, got {side!r}")
        qs = QuayStart(
            x_from_stern_m=_num(start, "x_from_stern_m", f"{where}: start") if "x_from_stern_m" in start else None,
            frame=_num(start, "frame", f"{where}: start") if "frame" in start else None,
            side=side,
            depth_m=_num(start, "depth_m", f"{where}: start") if "depth_m" in start else 2.0,
            standoff_m=_num(start, "standoff_m", f"{where}: start") if "standoff_m" in start else 3.0,
            off_centreline_m=_num(start, "off_centreline_m", f"{where}: start") if "off_centreline_m" in start else None)
        if qs.off_centreline_m is not None and qs.off_centreline_m < 0:
            raise HullscanError(f"{where}: start.off_centreline_m: expected metres to start.side of the keel line "
                                f"(0 or more), got {qs.off_centreline_m:g}")
        return NavPrior(None, sigma, "quay", where, _num(data, "ship_heading_deg", where), qs, stated)
    tf = data.get("hull_to_nav", data)
    if not isinstance(tf, dict) or "translation" not in tf:
        raise HullscanError(f"{where}: expected {{translation: [x,y,z], rotation: [x,y,z,w] or yaw_deg}} "
                            "or a quay prior {ship_heading_deg, start: {...}}")
    try:
        t = np.asarray(tf["translation"], float).reshape(3)
        if "rotation" in tf:
            q = np.asarray(tf["rotation"], float).reshape(4)
        else:
            q = Rotation.from_euler("z", np.deg2rad(_num(tf, "yaw_deg", where))).as_quat()
        transform = Transform(q, t)
    except (KeyError, ValueError, TypeError) as err:
        raise HullscanError(f"{where}: expected translation [x, y, z] and rotation [x, y, z, w] "
                            f"(or yaw_deg): {err}") from err
    if "sigma" not in data and isinstance(tf, dict) and "sigma" in tf:
        sigma, stated = _sigma(tf, where)
    return NavPrior(transform, sigma, "transform", where, sigma_stated=stated)


def load_prior(path: str | Path | None) -> NavPrior | None:
    """Read a prior file (JSON or YAML, either form); None for None."""
    if path is None:
        return None
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as err:
        raise HullscanError(f"{p}: cannot read navigation prior: {err.strerror or err}") from err
    import yaml

    try:
        # YAML is a superset of JSON: one parser reads both forms.
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise HullscanError(f"{p}: navigation prior is not valid JSON/YAML: {err}") from err
    return parse_prior(data, str(p))


def perturbed(hull_to_nav: Transform, pivot_hull: F64, along_m: float, across_m: float,
              heading_deg: float) -> Transform:
    """``hull_to_nav`` with the ship moved ``along_m``/``across_m`` (hull axes) and turned by
    ``heading_deg`` about ``pivot_hull``: an operator's prior with that error (for evaluation)."""
    rz = Rotation.from_euler("z", np.deg2rad(heading_deg))
    c = np.asarray(pivot_hull, float)
    move = Transform(rz.as_quat(), c + np.array([along_m, across_m, 0.0]) - rz.apply(c))
    return hull_to_nav @ move
