"""Replay a bag through the same nodes (the bag's /clock drives them).

    ros2 launch hullscan replay.launch.py bag:=/data/survey rate:=5 reference:=/data/hull.stl draft:=6.8

Arguments: bag, rate, params_file, reference, draft, trim, units, up, bow, prior, rviz, allow_missing (as in
inspect.launch.py; use_sim_time is always true here: the player publishes /clock).
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
    # namespace="/": dict parameters go under the node's own name and beat the file's sections.
    return Node(package="hullscan", executable=executable, name=executable, namespace="/", output="screen",
                parameters=params)


def generate_launch_description():
    share = get_package_share_directory("hullscan")
    arg = LaunchConfiguration
    sim = {"use_sim_time": True}
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="rosbag2 directory or .mcap/.db3 file"),
        DeclareLaunchArgument("rate", default_value="1.0"),
        DeclareLaunchArgument("reference", default_value="mirror"),
        DeclareLaunchArgument("draft", default_value="0.0", description="draft from the marks, m (0 = unknown)"),
        DeclareLaunchArgument("trim", default_value="0.0", description="aft minus forward draft, m (0 = even keel)"),
        # How the mesh file is read when its own axes or units are not found (as --units, --up, --bow).
        DeclareLaunchArgument("units", default_value="auto", description="mesh units: auto, m, cm, mm, model"),
        DeclareLaunchArgument("up", default_value="auto", description="mesh axis upwards: auto, +x, -x, +y, -y, +z, -z"),
        DeclareLaunchArgument("bow", default_value="auto", description="mesh axis towards the bow: auto, +x, ..."),
        DeclareLaunchArgument("prior", default_value="",
                              description="navigation prior: the quay notes or a transform file, as replay --prior ('' = none)"),
        DeclareLaunchArgument("params_file", default_value=os.path.join(share, "config", "replay.yaml")),
        DeclareLaunchArgument("rviz", default_value="true"),
        DeclareLaunchArgument("allow_missing", default_value="false",
                              description="run where tf2_msgs / marine_acoustic_msgs are missing"),
        hullscan_node("hullscan_mapper", [arg("params_file"), sim, {
            "allow_missing_msgs": ParameterValue(arg("allow_missing"), value_type=bool)}]),
        hullscan_node("hullscan_comparator", [arg("params_file"), sim, {
            "reference": arg("reference"), "draft": ParameterValue(arg("draft"), value_type=float),
            "trim": ParameterValue(arg("trim"), value_type=float),
            **{k: ParameterValue(arg(k), value_type=str) for k in ("units", "up", "bow")},
            "prior": ParameterValue(arg("prior"), value_type=str)}]),
        hullscan_node("hullscan_camera", [arg("params_file"), sim, {
            "allow_missing_msgs": ParameterValue(arg("allow_missing"), value_type=bool)}]),
        Node(package="hullscan", executable="hullscan_player", name="hullscan_player", output="screen",
             arguments=[arg("bag"), "--rate", arg("rate"), "--wait", "15"]),
        Node(package="rviz2", executable="rviz2", name="rviz2", condition=IfCondition(arg("rviz")),
             arguments=["-d", os.path.join(share, "launch", "hullscan.rviz")], parameters=[sim]),
    ])
