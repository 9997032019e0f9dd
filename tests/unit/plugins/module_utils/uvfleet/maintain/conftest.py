# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fixture of the maintenance job's tests (maintain_testlib.py)."""

from __future__ import absolute_import, division, print_function

import pytest

from maintain_testlib import make_node


@pytest.fixture
def node(base, tmp_path, monkeypatch):
    """A node as the role leaves it: a shared cache filled by real uv, a tool dir, the configuration."""
    return make_node(base, tmp_path, monkeypatch)
