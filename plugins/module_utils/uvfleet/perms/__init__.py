# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The permission engine: the policy, the verdict on each entry, the repair through checked fds, the report (cache_perms, uvfleet audit|check|repair)."""

from __future__ import absolute_import, division, print_function
