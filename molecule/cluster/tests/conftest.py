"""Scenario `cluster`: two nodes, one shared file system at /shared."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "_shared"))

from uvfleet_fixtures import ansible_host, host, node  # pylint: disable=unused-import  # noqa: E402,F401


@pytest.fixture(scope="session")
def node1():
    return node("uvfleet-cluster-n1")


@pytest.fixture(scope="session")
def node2():
    return node("uvfleet-cluster-n2")
