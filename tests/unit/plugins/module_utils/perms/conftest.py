# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the engine tests (they run as root on temporary trees)."""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import perms_testlib  # noqa: E402 pylint: disable=wrong-import-position

HERE = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config, items):  # pylint: disable=unused-argument
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason='the engine tests need root')
    for item in items:
        if str(item.fspath).startswith(HERE):
            item.add_marker(skip)


@pytest.fixture
def base():
    """A fresh temporary directory (mode 0755 root:root) on a file system with POSIX ACLs."""
    path = perms_testlib.temp_base()
    yield path
    perms_testlib.cleanup(path)


@pytest.fixture
def forks(monkeypatch):
    """Count the engine's forks, so that a test knows the parallel walk really ran."""
    # Imported here: the engine is importable only once conftest set up sys.path.
    from ansible_collections.uvfleet.uv.plugins.module_utils.perms import engine
    count = [0]
    real = os.fork

    def fork():
        count[0] += 1
        return real()
    monkeypatch.setattr(engine, '_fork', fork)
    return count
