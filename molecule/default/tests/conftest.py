"""Scenario `default`: default ACLs, cache on the container's overlay (no reflinks)."""

import pytest

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: F401


@pytest.fixture
def expect():
    return {"acl": True, "fallback": False, "link_mode": "copy"}
