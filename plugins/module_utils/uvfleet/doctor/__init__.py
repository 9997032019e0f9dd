# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""uvfleet doctor: why uv fails for the member who runs it, and the fix; its checks by subject."""

from __future__ import absolute_import, division, print_function
