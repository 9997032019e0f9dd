"""Fixtures of the uvfleet.uv.shared scenarios (imported by each scenario's conftest).

``host`` is testinfra's host from Molecule's inventory: its commands go over the
node's SSH connection (the run's ssh config, one master connection per node, about
0.02 s a command), and ``host.ansible(...)`` runs a module through Ansible, over the
same SSH. ``ansible_host`` is the same host, the name the module calls (cache_perms)
use in the stories.
"""
import os

import pytest
import testinfra


@pytest.fixture(scope="module")
def ansible_host(_testinfra_host):
    return _testinfra_host


@pytest.fixture(scope="module")
def host(_testinfra_host):
    return _testinfra_host


def node(name):
    """A node of the scenario by its inventory name (commands over SSH, as ``host``)."""
    return testinfra.get_host("ansible://" + name, ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])
