# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/shared/files/node-lib.py: the node command's library in one transfer, as the role runs it."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir, 'roles', 'shared', 'files', 'node-lib.py')
BUNDLE = {'command.py': 'print("uvfleet")\n', 'walk.py': '# walk\n\u00e9\n'}


def install(dest, bundle, *args):
    with open(SCRIPT) as f:
        code = f.read()
    return subprocess.run([sys.executable, '-I', '-c', code, dest] + list(args), input=json.dumps(bundle),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / 'perms'
    path.mkdir()
    return str(path)


def test_writes_what_differs_root_0644_and_nothing_on_the_second_run(dest):
    done = install(dest, BUNDLE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ['command.py', 'walk.py']
    for name, content in BUNDLE.items():
        st = os.lstat(os.path.join(dest, name))
        assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o644)
        with open(os.path.join(dest, name), encoding='utf-8') as f:
            assert f.read() == content
    again = install(dest, BUNDLE)
    assert again.returncode == 0 and again.stdout == ''
    changed = dict(BUNDLE, **{'walk.py': '# walk, version 2\n'})
    assert install(dest, changed).stdout.split() == ['walk.py']
    assert sorted(os.listdir(dest)) == ['command.py', 'walk.py']  # no temporary file left


def test_check_mode_names_the_files_and_writes_nothing(dest):
    done = install(dest, BUNDLE, '--check')
    assert done.returncode == 0 and done.stdout.split() == ['command.py', 'walk.py']
    assert os.listdir(dest) == []


def test_a_file_of_the_wrong_mode_or_a_symlink_in_its_place_is_replaced_never_followed(dest, tmp_path):
    outside = tmp_path / 'outside.py'
    outside.write_text('keep me\n')
    os.symlink(str(outside), os.path.join(dest, 'command.py'))
    with open(os.path.join(dest, 'walk.py'), 'w', encoding='utf-8') as f:
        f.write(BUNDLE['walk.py'])
    os.chmod(os.path.join(dest, 'walk.py'), 0o666)
    done = install(dest, BUNDLE)
    assert done.returncode == 0 and done.stdout.split() == ['command.py', 'walk.py']
    assert outside.read_text() == 'keep me\n'
    assert not os.path.islink(os.path.join(dest, 'command.py'))
    assert os.lstat(os.path.join(dest, 'walk.py')).st_mode & 0o7777 == 0o644


@pytest.mark.parametrize('name', ['../evil.py', 'sub/x.py', '.hidden.py', 'x.pyc', ''])
def test_names_that_are_not_module_names_are_refused_before_anything_is_written(dest, name):
    done = install(dest, dict(BUNDLE, **{name: 'x'}))
    assert done.returncode == 2 and 'refusing' in done.stderr
    assert os.listdir(dest) == []
