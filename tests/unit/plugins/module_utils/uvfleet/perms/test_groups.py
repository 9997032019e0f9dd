# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The group argument (issue 7, hole 4; groups.py): refused before anything changes, names that are numbers."""

from __future__ import absolute_import, division, print_function

import os

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import audit_cmd as cli
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import engine
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.perms import errors

from holes_testlib import JOBS, MEMBERS
from perms_testlib import OTHER_GID, good_tree, make_file, snapshot, temp_group


BAD_GROUPS = ['4294967295', '4294967296', '99999999999999999999', '\u00b2', '\u0664\u0663\u0664\u0663', '-1',
              '+4343', '0x10', '', '   ', 'no-such-group-uvfleet', '54321']


@JOBS
@pytest.mark.parametrize('group', BAD_GROUPS)
def test_a_group_that_does_not_resolve_is_refused_before_anything_changes(base, jobs, group):
    good_tree(base)
    make_file(os.path.join(base, 'f'), mode=0o600, gid=0)
    before = snapshot(base)
    with pytest.raises(errors.UnknownGroup) as err:
        engine.run(base, group, engine.Options(jobs=jobs))
    assert 'group' in str(err.value).lower() or 'GID' in str(err.value)
    assert snapshot(base) == before


def test_the_command_refuses_bad_groups_with_a_message(base, capsys):
    good_tree(base)
    for group in ('\u00b2', '4294967296', '54321'):
        assert cli.main(['-g', group, '--repair', base]) == 2
        err = capsys.readouterr().err
        assert 'uvfleet audit: ' in err and 'Traceback' not in err


@JOBS
def test_a_group_whose_name_is_a_number(base, forks, jobs):
    good_tree(base)
    f = make_file(os.path.join(base, 'f'), gid=0)
    with temp_group('98765', 4346):
        result = engine.run(base, '98765', engine.Options(jobs=jobs, is_member=MEMBERS))  # no GID 98765: the name wins
        assert result['group'] == 4346 and os.stat(f).st_gid == 4346
    with temp_group(str(OTHER_GID), 4347):  # the name of GID 4347 and the GID of another group
        with pytest.raises(errors.UnknownGroup) as err:
            engine.run(base, str(OTHER_GID), engine.Options(jobs=jobs))
        assert 'ambiguous' in str(err.value)
