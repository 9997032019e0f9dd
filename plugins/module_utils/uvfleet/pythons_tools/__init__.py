# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared Python and tool dirs: the play's installs there, and the removal of a retired one (the role's scripts)."""

from __future__ import absolute_import, division, print_function
