# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Session set-up for every unit test: the groups the tests use must exist (the engine refuses unknown ones)."""

from __future__ import absolute_import, division, print_function

import grp
import os
import subprocess

import pytest

#: GIDs the tests use as the shared group and as some other group, with the names given to them when missing
TEST_GROUPS = ((4343, 'uvfleet-t4343'), (4344, 'uvfleet-t4344'))


def ensure_group(gid, name):
    """Create a system group with this GID unless one exists (left in place: parallel test runs share it)."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        pass
    subprocess.call(['groupadd', '-g', str(gid), name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        pytest.exit('cannot create the test group %s with GID %d (groupadd failed)' % (name, gid), returncode=2)
    return None


@pytest.fixture(scope='session', autouse=True)
def test_groups():
    """The test groups, created once per host when missing (needs root; skipped otherwise)."""
    if os.geteuid() != 0:
        return {}
    return dict((gid, ensure_group(gid, name)) for gid, name in TEST_GROUPS)
