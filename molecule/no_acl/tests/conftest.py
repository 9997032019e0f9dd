"""Scenario `no_acl`: no ACLs anywhere; the wrappers' umask 0007 is the fallback."""

import pytest

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: F401


@pytest.fixture
def expect():
    return {"acl": False, "fallback": True, "link_mode": "copy"}
