"""Scenario `cluster`: two nodes, one shared file system at /shared."""

import pytest

from uvfleet_fixtures import ansible_host, host, node  # pylint: disable=unused-import  # noqa: F401


@pytest.fixture(scope="session")
def node1():
    return node("uvfleet-cluster-n1")


@pytest.fixture(scope="session")
def node2():
    return node("uvfleet-cluster-n2")
