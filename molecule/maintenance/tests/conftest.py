"""Scenario `maintenance`: the scheduled job on one Debian 12 node with systemd."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "_shared"))

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: E402,F401
