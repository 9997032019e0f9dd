"""Scenario `no_acl`: no ACLs anywhere; the wrappers' umask 0007 is the fallback."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "_shared"))

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: E402,F401


@pytest.fixture
def expect():
    return {"acl": False, "fallback": True, "link_mode": "copy"}
