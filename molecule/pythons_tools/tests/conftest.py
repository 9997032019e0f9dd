"""Scenario `pythons_tools`: Debian 12 managed, Debian 13 collaborative."""
import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "_shared"))

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: E402,F401


@pytest.fixture(scope="module")
def policy(host):
    return host.file("/srv/test-policy").content_string.strip()
