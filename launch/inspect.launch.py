"""Live inspection from the drone's topics: mapper, comparator, camera evidence and RViz.

    ros2 launch hullscan inspect.launch.py reference:=/data/hull.stl draft:=6.8 rviz:=true

Arguments: params_file, reference (mesh, earlier scan or 'mirror'), draft (m above the keel from
the draft marks; 0 = unknown), trim (aft minus forward draft, m; 0 = even keel), units, up and bow (how the mesh file is
read, as --units, --up, --bow; auto = from the mesh), prior (the quay notes or a transform file, as hullscan replay --prior; '' = none), plan (plan.json; '' = none), fittings (the ship's
anode plan, as hullscan replay --fittings; '' = none), after (a re-dive: the first dive's output folder, or
several separated by ':', whose coverage.ply the coverage, gaps and next lane are shown with; '' = none), use_sim_time, rviz,
allow_missing (run where tf2_msgs / marine_acoustic_msgs are missing). The arguments are given
to each node by its own name, after the params file, so they win over the file's node sections.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue

from launch import LaunchDescription


def hullscan_node(executable: str, params: list) -> Node:
    # namespace="/": the node's name is fully specified, so launch_ros writes the dict parameters
    # under that name; under "/**" they would lose to the params file's per-node section.
    return Node(package="hullscan", executable=executable, name=executable, namespace="/", output="screen",
                parameters=params)


def generate_launch_description():
    share = get_package_share_directory("hullscan")
    arg = LaunchConfiguration
    common = {"use_sim_time": ParameterValue(arg("use_sim_time"), value_type=bool)}
    return LaunchDescription([
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "hullscan.yaml")),
        DeclareLaunchArgument("reference", default_value="mirror", description="reference hull mesh or 'mirror'"),
        DeclareLaunchArgument("draft", default_value="0.0", description="draft from the marks, m (0 = unknown)"),
        DeclareLaunchArgument("trim", default_value="0.0", description="aft minus forward draft, m (0 = even keel)"),
        # How the mesh file is read when its own axes or units are not found (as --units, --up, --bow).
        DeclareLaunchArgument("units", default_value="auto", description="mesh units: auto, m, cm, mm, model"),
        DeclareLaunchArgument("up", default_value="auto", description="mesh axis upwards: auto, +x, -x, +y, -y, +z, -z"),
        DeclareLaunchArgument("bow", default_value="auto", description="mesh axis towards the bow: auto, +x, ..."),
        DeclareLaunchArgument("prior", default_value="",
                              description="navigation prior: the quay notes or a transform file, as replay --prior ('' = none)"),
        DeclareLaunchArgument("plan", default_value="", description="plan.json from 'hullscan plan' ('' = none)"),
        DeclareLaunchArgument("fittings", default_value="", description="the ship's anode plan YAML ('' = none)"),
        DeclareLaunchArgument("after", default_value="",
                              description="a re-dive: the first dive's output folder (its coverage.ply; '' = none)"),
        DeclareLaunchArgument("use_sim_time", default_value="false"),
        DeclareLaunchArgument("rviz", default_value="true"),
        DeclareLaunchArgument("allow_missing", default_value="false",
                              description="run where tf2_msgs / marine_acoustic_msgs are missing"),
        hullscan_node("hullscan_mapper", [arg("params_file"), common, {
            "allow_missing_msgs": ParameterValue(arg("allow_missing"), value_type=bool)}]),
        hullscan_node("hullscan_comparator", [arg("params_file"), common, {
            "reference": arg("reference"), "draft": ParameterValue(arg("draft"), value_type=float),
            "trim": ParameterValue(arg("trim"), value_type=float),
            **{k: ParameterValue(arg(k), value_type=str) for k in ("units", "up", "bow")},
            "prior": ParameterValue(arg("prior"), value_type=str),
            "plan": ParameterValue(arg("plan"), value_type=str),
            "fittings": ParameterValue(arg("fittings"), value_type=str),
            "after": ParameterValue(arg("after"), value_type=str)}]),
        hullscan_node("hullscan_camera", [arg("params_file"), common, {
            "allow_missing_msgs": ParameterValue(arg("allow_missing"), value_type=bool)}]),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(arg("rviz")),
             arguments=["-d", os.path.join(share, "launch", "hullscan.rviz")], parameters=[common]),
    ])
