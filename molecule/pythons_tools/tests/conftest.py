"""Scenario `pythons_tools`: Debian 12 managed, Debian 13 collaborative."""

import pytest

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: F401


@pytest.fixture(scope="module")
def policy(host):
    return host.file("/srv/test-policy").content_string.strip()
