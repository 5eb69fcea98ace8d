"""A simulated drone: simulate a survey to a bag, then start the nodes and play it into them.

    ros2 launch hullscan simulate.launch.py scenario:=demo rate:=5
    ros2 launch hullscan simulate.launch.py scenario:=sim/scenarios/demo.yaml duration:=30 decimate:=2

The simulator runs first (``hullscan simulate --force``: a second launch simulates anew rather than
replaying the old bag), and the nodes and the player start only once it has written the bag and
the reference; if it fails, nothing else starts and the launch ends. Arguments: scenario, out
(bag at OUT/bag), duration and decimate (shorter surveys; 0 = the scenario's own), rate,
params_file, draft (0 = the draft the quay notes read from the marks), prior ('notes', the
default: the quay notes' ship heading and start, placed at the survey's first fix; a prior file;
'' = none: the comparator aligns without a navigation prior), rviz, allow_missing. The reference is the design
hull the dive team holds, as the quay notes beside the bag name it (OUT/bag.operator.yaml: for a
parametric hull OUT/bag.design.ply), never the simulator's ground truth (OUT/bag.truth/). The
mapper and the camera node keep no checkpoint here: a simulated run is reproduced from its scenario.
"""

import os

import yaml
from ament_index_python.packages import get_package_share_directory
from launch.actions import (
    DeclareLaunchArgument,
    EmitEvent,
    ExecuteProcess,
    LogInfo,
    OpaqueFunction,
    RegisterEventHandler,
)
from launch.conditions import IfCondition
from launch.event_handlers import OnProcessExit
from launch.events import Shutdown
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackagePrefix

from launch import LaunchDescription


def _nodes(context, share):
    """The simulator, then (on its clean exit) the nodes, the player and RViz."""
    arg = {k: v for k, v in context.launch_configurations.items()}
    out = arg["out"]
    bag = os.path.join(out, "bag")
    # colcon installs the console scripts to lib/hullscan (not on PATH): call it there.
    hullscan = os.path.join(FindPackagePrefix("hullscan").perform(context), "lib", "hullscan", "hullscan")
    cmd = [hullscan, "simulate", "--scenario", arg["scenario"], "--out", bag, "--force"]
    if float(arg["duration"]) > 0:
        cmd += ["--duration", arg["duration"]]
    if int(arg["decimate"]) > 1:
        cmd += ["--decimate", arg["decimate"]]
    simulate = ExecuteProcess(cmd=cmd, name="hullscan_simulate", output="screen")
    sim = {"use_sim_time": True}
    allow = arg["allow_missing"].lower() in ("1", "true", "yes")

    def node(executable, extra):
        # namespace="/": dict parameters go under the node's own name and beat the file's sections.
        return Node(package="hullscan", executable=executable, name=executable, namespace="/", output="screen",
                    parameters=[arg["params_file"], sim, extra])

    def started():
        # What the dive team has, as the simulator wrote it beside the bag: the design hull the quay
        # notes name and the draft read from the marks (the draft argument, when given, wins).
        notes_file = bag + ".operator.yaml"
        with open(notes_file) as f:
            notes = yaml.safe_load(f)
        reference = os.path.join(os.path.dirname(notes_file), notes["reference"]["path"])
        draft = float(arg["draft"]) or float(notes["draft_m"])
        prior = notes_file if arg["prior"] == "notes" else arg["prior"]
        return [
            LogInfo(msg=f"reference {reference} (the quay notes' design hull), draft {draft:g} m"),
            node("hullscan_mapper", {"allow_missing_msgs": allow, "checkpoint_dir": ""}),
            node("hullscan_comparator", {"reference": reference, "draft": draft, "prior": prior,
                                         # the design file read as the notes say: a model-scale file at the
                                         # ship's length overall, its units and axes where they are stated
                                         "length": float(notes["reference"].get("length_m", 0.0)),
                                         **{k: str(notes["reference"].get(k, "auto")) for k in ("units", "up", "bow")}}),
            node("hullscan_camera", {"reference": reference, "allow_missing_msgs": allow, "checkpoint_dir": ""}),
            Node(package="hullscan", executable="hullscan_player", name="hullscan_player", output="screen",
                 arguments=[bag, "--rate", arg["rate"], "--wait", "30"]),
            Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(arg["rviz"]),
                 arguments=["-d", os.path.join(share, "launch", "hullscan.rviz")], parameters=[sim]),
        ]

    def after_simulation(event, _context):
        if event.returncode != 0:
            return [LogInfo(msg=f"hullscan simulate failed (exit {event.returncode}): nodes not started"),
                    EmitEvent(event=Shutdown(reason="simulation failed"))]
        return started()

    return [simulate, RegisterEventHandler(OnProcessExit(target_action=simulate, on_exit=after_simulation))]


def generate_launch_description():
    share = get_package_share_directory("hullscan")
    return LaunchDescription([
        DeclareLaunchArgument("scenario", description="simulator scenario: a YAML file or a library name"),
        DeclareLaunchArgument("out", default_value="/tmp/hullscan/sim"),
        DeclareLaunchArgument("duration", default_value="0", description="survey seconds (0 = the scenario's)"),
        DeclareLaunchArgument("decimate", default_value="1", description="keep every n-th sensor message"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "replay.yaml")),
        DeclareLaunchArgument("draft", default_value="0.0",
                              description="draft from the marks, m (0 = the quay notes' draft)"),
        DeclareLaunchArgument("prior", default_value="notes",
                              description="navigation prior: 'notes' (the quay notes beside the bag), a file, '' = none"),
        DeclareLaunchArgument("rviz", default_value="true"),
        DeclareLaunchArgument("allow_missing", default_value="false",
                              description="run where tf2_msgs / marine_acoustic_msgs are missing"),
        OpaqueFunction(function=_nodes, args=[share]),
    ])
