# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixture of the maintenance job's tests (maintain_testlib.py)."""

from __future__ import absolute_import, division, print_function

import os
import sys

import pytest

# ansible-test's pytest does not put a test's directory on sys.path: the helper beside it is found through this
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from maintain_testlib import make_node  # noqa: E402 pylint: disable=wrong-import-position


@pytest.fixture
def node(base, tmp_path, monkeypatch, request):
    """A node as the role leaves it: a shared cache filled by real uv, a tool dir, the configuration."""
    return make_node(base, tmp_path, monkeypatch, request)
