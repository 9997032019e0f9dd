"""Scenario `clone`: cache and homes on XFS with reflink; link-mode auto -> clone."""

import pytest

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: F401


@pytest.fixture
def expect():
    return {"acl": True, "fallback": False, "link_mode": "clone"}
