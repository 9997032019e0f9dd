"""Fixtures of the uvfleet.uv.shared scenarios (imported by each scenario's conftest).

``host`` talks to the container through ``podman exec`` (about 0.3 s a command
instead of several seconds through an ad-hoc Ansible run); ``ansible_host`` is
testinfra's Ansible host, for module calls such as cache_perms.
"""
import pytest
import testinfra


@pytest.fixture(scope="module")
def ansible_host(_testinfra_host):
    return _testinfra_host


@pytest.fixture(scope="module")
def host(_testinfra_host):
    return testinfra.get_host("podman://" + _testinfra_host.backend.get_hostname())
