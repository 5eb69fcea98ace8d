"""What every hullscan node shares: config from parameters, QoS, diagnostics, guarded callbacks."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.clock import Clock, ClockType
from rclpy.node import Node
from rclpy.qos import (
    QoSDurabilityPolicy,
    QoSHistoryPolicy,
    QoSProfile,
    QoSReliabilityPolicy,
    qos_profile_sensor_data,
)

from hullscan.config import HullscanConfig, deep_merge, model_from_dict, read_yaml
from hullscan.diagnostics import DropLog
from hullscan.ros import messages

F = TypeVar("F", bound=Callable[..., Any])

# Latched outputs: a late RViz or comparator still gets the last map/findings.
LATCHED = QoSProfile(depth=1, history=QoSHistoryPolicy.KEEP_LAST, reliability=QoSReliabilityPolicy.RELIABLE,
                     durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)
STEADY = Clock(clock_type=ClockType.STEADY_TIME)


def sensor_qos(depth: int, reliable: bool = False) -> QoSProfile:
    """Sensor-data QoS (best effort, volatile) with a deeper queue so bursts are not lost in the
    subscriber; ``reliable`` for lossless replay of a bag."""
    q = QoSProfile(depth=depth, history=QoSHistoryPolicy.KEEP_LAST,
                   reliability=qos_profile_sensor_data.reliability, durability=qos_profile_sensor_data.durability)
    if reliable:
        q.reliability = QoSReliabilityPolicy.RELIABLE
    return q


# --------------------------------------------------------------------------- config <-> parameters


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in flat.items():
        d = out
        *head, last = key.split(".")
        for h in head:
            d = d.setdefault(h, {})
        d[last] = v
    return out


def config_defaults() -> dict[str, Any]:
    return flatten(HullscanConfig().model_dump(mode="json"))


def declare_config(node: Node, node_defaults: dict[str, Any] | None = None) -> HullscanConfig:
    """Declare ``config_file`` and one parameter per :class:`HullscanConfig` key (``recon.voxel_size``...).

    Layers, lowest first: the config defaults, the node's own defaults (``node_defaults``, dotted
    keys, e.g. the mapper's ``recon.chunk_pings: 1``), the file (the same YAML the CLI's
    ``--config`` reads), then parameters that differ from their declared default; validation
    errors name the key.
    """
    file: str = node.declare_parameter("config_file", "").value
    defaults = {**config_defaults(), **(node_defaults or {})}
    overrides: dict[str, Any] = {}
    for key, default in defaults.items():
        if default is None or (isinstance(default, list) and not default):
            p = node.declare_parameter(key, None, ParameterDescriptor(dynamic_typing=True))
        else:
            p = node.declare_parameter(key, default)
        value = p.value
        if isinstance(value, tuple | list):
            value = list(value)
        if value != default:
            overrides[key] = value
    data = read_yaml(file) if file else {}
    base = deep_merge(unflatten(dict(node_defaults or {})), data)
    return model_from_dict(HullscanConfig, deep_merge(base, unflatten(overrides)),
                           f"{node.get_name()} parameters" + (f" + {file}" if file else ""))


def params_for_node(params_file: str | Path, node_name: str) -> dict[str, Any]:
    """Read a ROS 2 params file (``/**`` and ``<node>`` sections) into flat parameter values,
    as ``--ros-args --params-file`` would; used by the composed ``live`` mode."""
    data = yaml.safe_load(Path(params_file).read_text()) or {}
    out: dict[str, Any] = {}
    for section in ("/**", node_name, f"/{node_name}"):
        body = (data.get(section) or {}).get("ros__parameters") or {}
        out.update(flatten(body))
    return out


# --------------------------------------------------------------------------- base node


class HullscanNode(Node):
    """A node with health on ``/diagnostics``: warnings are counted in a :class:`DropLog`
    and keep the status at WARN for ``warn_hold_s`` after the last one.

    A function of the node that fails (the comparator cannot align, the mapper has no
    navigation or no mounting, an input went stale) is a *fault*: :meth:`fail` sets it with its
    reason and the status is ERROR, naming every fault, until :meth:`recover` clears it, which
    the node does only once that function works again (a fault never fades on a timer).
    """

    warn_hold_s = 5.0

    node_config_defaults: ClassVar[dict[str, Any]] = {}  # per-node defaults for HullscanConfig keys (dotted)

    def __init__(self, name: str, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.config = declare_config(self, self.node_config_defaults)
        self.drops = DropLog()
        self.stats: dict[str, object] = {}
        self._last_warning = ""
        self._last_warning_t = -1e9
        self.faults: dict[str, str] = {}  # function -> why it fails now
        self.degraded: list[str] = []     # lasting limits the node was allowed to start with (WARN)
        self.stats["use_sim_time"] = bool(self.get_parameter("use_sim_time").value)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(1.0, self._publish_diagnostics, clock=STEADY)

    def warn(self, where: str, reason: str, detail: str = "", n: int = 1) -> None:
        first = (where, reason) not in self.drops.counts
        self.drops.add(where, reason, n, detail)
        self._last_warning = f"{where}: {reason.replace('_', ' ')}" + (f" ({detail})" if detail else "")
        self._last_warning_t = time.monotonic()
        if first:
            self.get_logger().warning(self._last_warning)

    def fail(self, function: str, reason: str) -> None:
        """``function`` fails now, because of ``reason`` (ERROR on /diagnostics until recovered)."""
        changed = self.faults.get(function) != reason
        self.faults[function] = reason
        if changed:
            self.get_logger().error(f"{function} failed: {reason}")
            self._publish_diagnostics()  # at once: an operator should not wait for the next second

    def recover(self, function: str) -> None:
        """``function`` works again."""
        if self.faults.pop(function, None) is not None:
            self.get_logger().info(f"{function} works again")
            self._publish_diagnostics()

    def health(self) -> tuple[int, str]:
        """(level, message) for the diagnostics; nodes may override."""
        if self.faults:
            return (int.from_bytes(DiagnosticStatus.ERROR, "little"),
                    "; ".join(f"{k} failed: {v}" for k, v in sorted(self.faults.items())))
        if time.monotonic() - self._last_warning_t < self.warn_hold_s:
            return int.from_bytes(DiagnosticStatus.WARN, "little"), self._last_warning
        if self.degraded:
            return int.from_bytes(DiagnosticStatus.WARN, "little"), "; ".join(self.degraded)
        return int.from_bytes(DiagnosticStatus.OK, "little"), "ok"

    def _publish_diagnostics(self) -> None:
        level, message = self.health()
        values: dict[str, object] = dict(self.stats)
        for function, reason in sorted(self.faults.items()):
            values[f"error {function}"] = reason
        for (where, reason), n in sorted(self.drops.counts.items()):
            values[f"drop {where} {reason}"] = n
        arr = DiagnosticArray(header=messages.header(self.get_clock().now().nanoseconds, ""))
        arr.status = [messages.diagnostic(f"hullscan/{self.get_name()}", level, message, values)]
        self._diag_pub.publish(arr)


def optional_subscription(node: Node, module: str, type_name: str, topic: str, callback: Callable[[Any], None],
                          qos: QoSProfile, missing: list[str], cost: str) -> None:
    """Subscribe ``topic`` with ``module.type_name``; when that message package is not installed,
    ``cost`` (the package and what is lost without it) goes on ``missing``."""
    import importlib

    try:
        msg_type = getattr(importlib.import_module(module), type_name)
    except ImportError:
        missing.append(cost)
        return
    node.create_subscription(msg_type, topic, callback, qos)


def refuse_missing_msgs(node: HullscanNode, missing: list[str], allow: bool, install: str, also: str = "") -> None:
    """A message package missing from the Python environment (the pip wheels have neither tf2_msgs
    nor marine_acoustic_msgs) silently blinds a node to a topic: refuse to start, with one line,
    unless ``allow`` (``allow_missing_msgs``, ``--allow-missing``) says to go on without; then it
    stays a warning on /diagnostics for as long as the node runs. ``install``: the apt packages;
    ``also``: another way out, offered before the parameter."""
    if not missing:
        return
    what, many = "; ".join(missing), len(missing) > 1
    pkg, them = ("packages", "them") if many else ("package", "it")
    if not allow:
        from hullscan.errors import HullscanError

        raise HullscanError(
            f"{node.get_name()}: message {pkg} missing in this Python environment: {what}. Install {them} "
            f"(ROS 2: apt install {install}), {also}or start with allow_missing_msgs:=true (hullscan live "
            f"--allow-missing, launch argument allow_missing:=true) to run without {them}")
    node.get_logger().warning(f"running without {what} (allow_missing_msgs)")
    node.stats["missing_msgs"] = what
    node.degraded.append(f"missing message {pkg}: {what}")


def spin_for(node: Node, seconds: float, until: Callable[[], bool] | None = None) -> None:
    """Spin ``node`` for ``seconds``, or until ``until()`` holds."""
    import rclpy

    end = time.monotonic() + seconds
    while time.monotonic() < end and not (until is not None and until()):
        rclpy.spin_once(node, timeout_sec=0.05)


def wait_for_listeners(node: Node, watch: list[Any], every: list[Any], wait_s: float, wait_for: int,
                       settle_s: float = 1.0) -> None:
    """Wait (at most ``wait_s``) until each publisher in ``watch`` has ``wait_for`` subscribers, then
    until none of ``every`` gained one for ``settle_s``: DDS discovery matches endpoints one by one,
    and a camera node matched a few milliseconds after the mapper would miss the first odometry, its
    first frames then having no pose (test_parity's keyframes_without_pose, stop 43)."""
    end = time.monotonic() + wait_s
    spin_for(node, wait_s, lambda: all(p.get_subscription_count() >= wait_for for p in watch))
    counts = [p.get_subscription_count() for p in every]
    quiet_from = time.monotonic()
    while time.monotonic() < min(end, quiet_from + settle_s):
        spin_for(node, 0.05)
        now = [p.get_subscription_count() for p in every]
        if now != counts:
            counts, quiet_from = now, time.monotonic()


def guarded(where: str) -> Callable[[F], F]:
    """Turn an exception in a callback into a diagnostics warning instead of a dead node."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(self: HullscanNode, *args: Any, **kwargs: Any) -> Any:
            try:
                return fn(self, *args, **kwargs)
            except Exception as err:
                self.warn(where, "callback_error", f"{type(err).__name__}: {err}")
                return None

        return inner  # type: ignore[return-value]

    return wrap


def run_node(factory: Callable[[], Node], argv: list[str] | None = None) -> int:
    """``main`` of a single-node executable.

    On SIGINT (Ctrl-C, or ``ros2 launch`` stopping) rclpy shuts the context down, spinning ends
    once the running callback returns, and the process leaves at once, status 0, without tearing
    the node down after its context. An inspection or an evidence search can take longer than
    the 5 s after which launch escalates to SIGTERM, so a watchdog thread ends the process, status 0,
    if it is still there ``STOP_GRACE_S`` after the shutdown: what that callback would have
    published is lost with the shutdown anyway. A SIGTERM (launch's escalation when SIGINT did not
    stop the node) writes every thread's stack to stderr first: the node is stuck, and the log
    says where.
    """
    import faulthandler
    import signal
    import threading

    import rclpy
    from rclpy.executors import ExternalShutdownException

    from hullscan.errors import HullscanError

    with rclpy.init(args=argv):
        context = rclpy.get_default_context()
        threading.Thread(target=_leave_after_grace, args=(context,), name="hullscan_stop", daemon=True).start()
        # The watchdog needs the GIL. A node still there when launch escalates to SIGTERM is stuck in
        # native code that holds it: faulthandler writes every thread's stack (from C, without the
        # GIL) before rclpy's handler, so the log says where it was stuck.
        faulthandler.register(signal.SIGTERM, all_threads=True, chain=True)
        try:
            node = factory()
        except HullscanError as err:  # bad parameters, a reference that cannot be read: one line
            import sys

            print(f"ERROR {getattr(factory, '__name__', 'node')}: {err}", file=sys.stderr)
            return 1
        try:
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        except BaseException as err:
            if not context.ok():
                # The shutdown raced the executor (an RCLError "context is invalid" from the wait set it
                # was building, as CI saw once at stop 40): a stop, not a failure.
                _leave(0)
            # A failure, not a stop: node first, then the context, and the traceback. A native hang in
            # that (which the watchdog cannot end without the GIL) ends the process, stacks written.
            import sys

            print(f"{node.get_name()}: spinning failed ({type(err).__name__}: {err}); tearing the node down",
                  file=sys.stderr, flush=True)
            faulthandler.dump_traceback_later(STOP_GRACE_S + 2.0, exit=True)
            node.destroy_node()
            raise
        # Stopped (SIGINT, or the context shut down): leave at once. Tearing a node down after rclpy's
        # signal handler has shut its context (the order ros2/launch_ros#213 reversed) hung now and then
        # in rclpy's native destroy_when_not_in_use, holding the GIL, past launch's SIGTERM. Nothing
        # can be published any more; the process ends here, and its peers see the participant go.
        # (The context can still read ok() for a moment after the KeyboardInterrupt: rclpy's handler
        # shuts it down from its own thread, so the stop is known from how spinning ended.)
        _leave(0)
    return 0


def _leave(status: int) -> None:
    """End the process now: the node is down and rclpy shut down; the interpreter's finalization
    (native libraries' threads and destructors) once hung a stopped node past launch's SIGTERM."""
    import os
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


STOP_GRACE_S = 3.0


def _leave_after_grace(context: Any) -> None:
    """Watchdog: once ``context`` is shut down (rclpy's SIGINT handler does that from C++, without
    calling on_shutdown callbacks), give the node STOP_GRACE_S to finish, then leave."""
    import faulthandler
    import sys

    while context.ok():
        time.sleep(0.2)
    # This thread needs the GIL to leave. Native code that holds it (a hang in DDS or a kernel) is
    # ended by faulthandler's own timer instead: every thread's stack in the log, then exit status 1.
    faulthandler.dump_traceback_later(STOP_GRACE_S + 2.0, exit=True)
    time.sleep(STOP_GRACE_S)
    print(f"a callback was still busy {STOP_GRACE_S:.0f} s after the stop: leaving without it", file=sys.stderr)
    _leave(0)
