"""Sonar wire formats read straight from the device (no ROS driver in between)."""
