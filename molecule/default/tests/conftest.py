"""Scenario `default`: default ACLs, cache on the container's overlay (no reflinks)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "_shared"))

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: E402,F401


@pytest.fixture
def expect():
    return {"acl": True, "fallback": False, "link_mode": "copy"}
