"""Message definitions and the rosbags type store hullscan reads and writes with.

``marine_acoustic_msgs`` is not part of the ROS 2 core, so its definitions are
carried here (as published by apl-ocean-engineering/marine_msgs) and registered
in a Kilted type store. When reading, definitions embedded in the bag win: a bag
from a drone with a newer ``marine_acoustic_msgs`` still decodes.
"""

from __future__ import annotations

from functools import lru_cache

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

PING_INFO = """\
float32 frequency
float32 sound_speed
float32[] tx_beamwidths
float32[] rx_beamwidths
"""

SONAR_IMAGE_DATA = """\
uint32 DTYPE_UINT8=0
uint32 DTYPE_INT8=1
uint32 DTYPE_UINT16=2
uint32 DTYPE_INT16=3
uint32 DTYPE_UINT32=4
uint32 DTYPE_INT32=5
uint32 DTYPE_UINT64=6
uint32 DTYPE_INT64=7
uint32 DTYPE_FLOAT32=8
uint32 DTYPE_FLOAT64=9
bool is_bigendian
uint32 dtype
uint32 beam_count
uint8[] data
"""

PROJECTED_SONAR_IMAGE = """\
std_msgs/Header header
marine_acoustic_msgs/PingInfo ping_info
geometry_msgs/Vector3[] beam_directions
float32[] ranges
marine_acoustic_msgs/SonarImageData image
"""

DETECTION_FLAG = """\
uint8 DETECT_OK=0
uint8 DETECT_BAD_SONAR=1
uint8 DETECT_BAD_FILTER=2
uint8 DETECT_BAD_USER=4
uint8 flag
"""

SONAR_DETECTIONS_DEF = """\
std_msgs/Header header
marine_acoustic_msgs/PingInfo ping_info
marine_acoustic_msgs/DetectionFlag[] flags
float32[] two_way_travel_times
float32[] tx_delays
float32[] intensities
float32[] tx_angles
float32[] rx_angles
"""

MARINE_ACOUSTIC = {
    "marine_acoustic_msgs/msg/PingInfo": PING_INFO,
    "marine_acoustic_msgs/msg/DetectionFlag": DETECTION_FLAG,
    "marine_acoustic_msgs/msg/SonarDetections": SONAR_DETECTIONS_DEF,
    "marine_acoustic_msgs/msg/SonarImageData": SONAR_IMAGE_DATA,
    "marine_acoustic_msgs/msg/ProjectedSonarImage": PROJECTED_SONAR_IMAGE,
}

# Message types of the input contract, by role.
LASERSCAN = "sensor_msgs/msg/LaserScan"
POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
SONAR_IMAGE = "marine_acoustic_msgs/msg/ProjectedSonarImage"
SONAR_DETECTIONS = "marine_acoustic_msgs/msg/SonarDetections"
ODOMETRY = "nav_msgs/msg/Odometry"
TFMESSAGE = "tf2_msgs/msg/TFMessage"
IMAGE = "sensor_msgs/msg/Image"
COMPRESSED_IMAGE = "sensor_msgs/msg/CompressedImage"
CAMERA_INFO = "sensor_msgs/msg/CameraInfo"


def reader_typestore() -> Typestore:
    """A fresh ROS 2 Kilted store plus ``marine_acoustic_msgs``; readers register the
    bag's own embedded definitions into it."""
    store = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for name, text in MARINE_ACOUSTIC.items():
        types.update(get_types_from_msg(text, name))
    store.register(types)
    return store


@lru_cache(maxsize=1)
def typestore() -> Typestore:
    """The shared store for writing (cached; do not register into it)."""
    return reader_typestore()
