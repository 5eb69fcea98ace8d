"""Live restart loss: the mapper killed with kill -9 at random times during a played survey.

Target (issue 17): a restart loses 10 s or less. One survey is played at rate 1 into a mapper
that checkpoints every ``--period`` seconds of data; the mapper is killed (SIGKILL, no goodbye)
at ``--kills`` random moments (seeded, at least ``--spacing`` s apart) and started again at once.
For each kill two figures, from the probe's record of /hullscan/cloud and /diagnostics:

* ``rolled_back_s``: the newest data the killed mapper had published minus the stamp its
  successor restored (what the map had and lost; 1 Hz clouds, so a lower bound);
* ``gap_s``: the successor's ``restore_gap_s``, from the restored stamp to its first ping (also
  the pings played while no mapper ran: the player does not wait).

Writes bench/results/restart.json and .md. Run: .venv/bin/python bench/restart_loss.py
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import ros_env  # noqa: E402
from tests.hullscan.ros.helpers import node_cmd, rows, spawn, stop, write_survey  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=200.0, help="survey length (played at rate 1)")
    ap.add_argument("--spacing", type=float, default=14.0, help="minimum seconds between kills")
    ap.add_argument("--period", type=float, default=5.0, help="checkpoint_period_s")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--log", help="write every mapper's stderr here")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    env = ros_env()
    with tempfile.TemporaryDirectory(prefix="hullscan-restart-") as tmp:
        tmpd = Path(tmp)
        t0, kills = play_and_kill(args, rng, env, tmpd)
        events = rows((tmpd / "probe.jsonl").read_text())
    results = measure(events, kills, t0)
    ok = [r for r in results if r["rolled_back_s"] is not None]
    worst = max((float(r["rolled_back_s"]) for r in ok), default=None)
    worst_gap = max((float(r["gap_s"]) for r in ok if r["gap_s"] is not None), default=None)
    out = {"kills": results, "measured": len(ok), "worst_rolled_back_s": worst, "worst_gap_s": worst_gap,
           "target_s": 10.0, "met": worst is not None and len(ok) == len(kills) and worst <= 10.0,
           "args": vars(args)}
    write_results(out, results)
    return 0 if out["met"] else 1


def kill_moments(rng: random.Random, kills: int, seconds: float, spacing: float) -> list[float]:
    """Kill moments: random, apart by at least ``spacing``, within the survey (after a first checkpoint):
    uniform points in the room left once the spacings are set aside, then spread out again."""
    room = seconds - 20.0 - (kills - 1) * spacing
    if room <= 0:
        raise SystemExit(f"{kills} kills {spacing} s apart do not fit in {seconds} s")
    base = sorted(rng.uniform(0.0, room) for _ in range(kills))
    return [10.0 + b + i * spacing for i, b in enumerate(base)]


def play_and_kill(args: argparse.Namespace, rng: random.Random, env: dict[str, str], tmpd: Path
                  ) -> tuple[float, list[float]]:
    """Play the survey into a mapper, kill it at the drawn moments and start a new one each time, with
    the probe recording into ``tmpd/probe.jsonl``; returns the play's start and the kill times
    (monotonic clock)."""
    bag = write_survey(tmpd / "bag", seconds=args.seconds)
    cmd = node_cmd("mapper", checkpoint_dir=tmpd / "ckpt", checkpoint_period_s=args.period,
                   reliable_inputs="true")
    # The probe's rows go to a file: a pipe nobody reads fills up and stalls it after a minute.
    probe_out = (tmpd / "probe.jsonl").open("w")
    probe = subprocess.Popen([sys.executable, "-m", "hullscan.ros.probe", "--duration", str(args.seconds + 90)],
                             env=env, cwd=REPO, stdout=probe_out, stderr=subprocess.DEVNULL, text=True)
    mapper = spawn(cmd, env)
    time.sleep(8.0)  # the first mapper up (numba cache, DDS discovery) before the survey starts
    player = spawn([sys.executable, "-m", "hullscan", "play", str(bag), "--rate", "1", "--wait", "20"], env)
    t0 = time.monotonic()
    moments = kill_moments(rng, args.kills, args.seconds, args.spacing)
    kills: list[float] = []
    logs: list[subprocess.Popen[str]] = []  # the killed mappers (their stderr, for the record)
    try:
        for m in moments:
            while time.monotonic() - t0 < m:
                time.sleep(0.05)
            kills.append(time.monotonic())
            mapper.kill()
            mapper.wait()
            logs.append(mapper)
            mapper = spawn(cmd, env)
        player.wait(timeout=args.seconds + 120)
        time.sleep(8.0)
    finally:
        outs = stop(mapper, player, probe)
        probe_out.close()
    if args.log:
        text = [f"== mapper {i} (killed)\n" + (p.communicate()[1] or "") for i, p in enumerate(logs)]
        text.append("== last mapper\n" + outs[0][1])
        Path(args.log).write_text("\n".join(text))
    return t0, kills


def measure(events: list[dict[str, Any]], kills: list[float], t0: float) -> list[dict[str, Any]]:
    """Per kill, from the probe's record: how much published data was rolled back and the gap to the
    successor's first ping (None when the record holds neither)."""
    clouds = sorted((e["wall"], e["stamp_ns"]) for e in events if e["topic"] == "/hullscan/cloud")
    diags = sorted((e["wall"], e["values"]) for e in events
                   if e["topic"] == "/diagnostics" and e["name"] == "hullscan/hullscan_mapper")
    results: list[dict[str, Any]] = []
    for i, k in enumerate(kills):
        nxt = kills[i + 1] if i + 1 < len(kills) else float("inf")
        before = [s for w, s in clouds if w < k]
        after = [v for w, v in diags if k < w < nxt and "restored_stamp_s" in v]
        if not before or not after:
            results.append({"kill_s": round(k - t0, 1), "rolled_back_s": None, "gap_s": None})
            continue
        restored = float(after[-1]["restored_stamp_s"])
        gap = next((float(v["restore_gap_s"]) for v in after if "restore_gap_s" in v), None)
        results.append({"kill_s": round(k - t0, 1), "rolled_back_s": round(max(before) * 1e-9 - restored, 2),
                        "gap_s": gap})
    return results


def write_results(out: dict[str, Any], results: list[dict[str, Any]]) -> None:
    """bench/results/restart.json and .md, and the table on stdout."""
    worst, worst_gap = out["worst_rolled_back_s"], out["worst_gap_s"]
    res_dir = REPO / "bench" / "results"
    (res_dir / "restart.json").write_text(json.dumps(out, indent=2))
    lines = ["# Live restart loss (kill -9 at random times, bench/restart_loss.py)", "",
             f"{out['measured']} of {len(results)} kills measured; worst rolled back {worst} s, worst gap {worst_gap} s "
             f"(target <= 10 s: {'met' if out['met'] else 'NOT met'}).", "",
             "| kill at (s) | rolled back (s) | gap to first ping (s) |", "|---|---|---|"]
    lines += [f"| {r['kill_s']} | {r['rolled_back_s']} | {r['gap_s']} |" for r in results]
    (res_dir / "restart.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
