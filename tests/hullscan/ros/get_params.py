"""Print a running node's parameters as JSON (as ``ros2 param get`` would; there is no ros2 CLI here).

    python tests/hullscan/ros/get_params.py NODE NAME [NAME ...]

Waits up to 60 s for the node's ``get_parameters`` service. Exit 1 when it does not come.
"""

from __future__ import annotations

import json
import sys

import rclpy
from rcl_interfaces.srv import GetParameters
from rclpy.parameter import parameter_value_to_python


def main() -> int:
    node_name, names = sys.argv[1].lstrip("/"), sys.argv[2:]
    with rclpy.init():
        node = rclpy.create_node("hullscan_param_probe")
        client = node.create_client(GetParameters, f"/{node_name}/get_parameters")
        if not client.wait_for_service(timeout_sec=60.0):
            print(f"/{node_name}/get_parameters not available", file=sys.stderr)
            return 1
        future = client.call_async(GetParameters.Request(names=names))
        rclpy.spin_until_future_complete(node, future, timeout_sec=30.0)
        if future.result() is None:
            print(f"/{node_name}/get_parameters gave no answer", file=sys.stderr)
            return 1
        values = [parameter_value_to_python(v) for v in future.result().values]
        print(json.dumps(dict(zip(names, values, strict=True))))
        node.destroy_node()
    return 0


if __name__ == "__main__":
    sys.exit(main())
