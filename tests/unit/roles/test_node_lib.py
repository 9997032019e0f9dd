# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/shared/files/node-lib.py: the node command's library (a package tree) in one transfer, as the role runs it."""

from __future__ import absolute_import, division, print_function

import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.join(os.path.dirname(__file__), os.pardir, os.pardir, os.pardir)
SCRIPT = os.path.join(REPO, 'roles', 'shared', 'files', 'node-lib.py')
BUNDLE = {'uvfleet/__init__.py': '', 'uvfleet/cmd/main.py': 'print("uvfleet")\n', 'uvfleet/fs/walk.py': '# walk\n\u00e9\n'}

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='installs root-owned files (fchown)')


def install(dest, bundle, *args):
    with open(SCRIPT) as f:
        code = f.read()
    return subprocess.run([sys.executable, '-I', '-c', code, dest] + list(args), input=json.dumps(bundle),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)


def tree(dest):
    """Every entry below dest, directories with a trailing slash."""
    out = []
    for top, dirs, files in os.walk(dest):
        rel = os.path.relpath(top, dest)
        out += [os.path.normpath(os.path.join(rel, d)) + '/' for d in dirs]
        out += [os.path.normpath(os.path.join(rel, f)) for f in files]
    return sorted(out)


@pytest.fixture
def dest(tmp_path):
    path = tmp_path / 'lib'
    path.mkdir()
    return str(path)


def test_writes_what_differs_root_0644_in_root_0755_dirs_and_nothing_on_the_second_run(dest):
    done = install(dest, BUNDLE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == sorted(BUNDLE)
    for name, content in BUNDLE.items():
        st = os.lstat(os.path.join(dest, name))
        assert (st.st_uid, st.st_mode & 0o7777) == (0, 0o644)
        with open(os.path.join(dest, name), encoding='utf-8') as f:
            assert f.read() == content
    for directory in ('uvfleet', 'uvfleet/cmd', 'uvfleet/fs'):
        st = os.lstat(os.path.join(dest, directory))
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (0, 0, 0o755)
    again = install(dest, BUNDLE)
    assert again.returncode == 0 and again.stdout == ''
    changed = dict(BUNDLE, **{'uvfleet/fs/walk.py': '# walk, version 2\n'})
    assert install(dest, changed).stdout.split() == ['uvfleet/fs/walk.py']
    assert tree(dest) == ['uvfleet/', 'uvfleet/__init__.py', 'uvfleet/cmd/', 'uvfleet/cmd/main.py', 'uvfleet/fs/',
                          'uvfleet/fs/walk.py']  # no temporary file left


def test_check_mode_names_the_files_and_writes_nothing(dest):
    done = install(dest, BUNDLE, '--check')
    assert done.returncode == 0 and done.stdout.split() == sorted(BUNDLE)
    assert os.listdir(dest) == []
    assert install(dest, BUNDLE).returncode == 0
    assert install(dest, dict(BUNDLE, **{'uvfleet/new/x.py': 'x'}), '--check').stdout.split() == ['uvfleet/new/x.py']
    assert not os.path.exists(os.path.join(dest, 'uvfleet', 'new'))


def test_a_file_of_the_wrong_mode_or_a_symlink_in_its_place_is_replaced_never_followed(dest, tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'main.py').write_text('keep me\n')
    os.makedirs(os.path.join(dest, 'uvfleet', 'fs'))
    os.symlink(str(outside), os.path.join(dest, 'uvfleet', 'cmd'))  # a directory swapped for a symlink
    with open(os.path.join(dest, 'uvfleet', 'fs', 'walk.py'), 'w', encoding='utf-8') as f:
        f.write(BUNDLE['uvfleet/fs/walk.py'])
    os.chmod(os.path.join(dest, 'uvfleet', 'fs', 'walk.py'), 0o666)
    os.chmod(os.path.join(dest, 'uvfleet'), 0o777)
    done = install(dest, BUNDLE)
    assert done.returncode == 0 and done.stdout.split() == sorted(BUNDLE)
    assert (outside / 'main.py').read_text() == 'keep me\n' and os.listdir(str(outside)) == ['main.py']
    assert not os.path.islink(os.path.join(dest, 'uvfleet', 'cmd'))
    assert os.lstat(os.path.join(dest, 'uvfleet', 'fs', 'walk.py')).st_mode & 0o7777 == 0o644
    assert os.lstat(os.path.join(dest, 'uvfleet')).st_mode & 0o7777 == 0o755


@pytest.mark.parametrize('name', ['../evil.py', 'uvfleet/../x.py', '/abs.py', 'uvfleet//x.py', 'uvfleet/.hidden.py',
                                  '.hidden/x.py', 'x.pyc', 'my-pkg/x.py', ''])
def test_names_that_are_not_module_paths_are_refused_before_anything_is_written(dest, name):
    done = install(dest, dict(BUNDLE, **{name: 'x'}))
    assert done.returncode == 2 and 'refusing' in done.stderr
    assert os.listdir(dest) == []
    done = install(dest, sorted(BUNDLE) + [name], '--prune')
    assert done.returncode == 2 and 'refusing' in done.stderr


def test_prune_removes_the_flat_layout_of_1_0_0_and_stray_entries_not_the_library(dest, tmp_path):
    old = os.path.join(dest, 'perms')
    os.makedirs(os.path.join(old, '__pycache__'))
    for name in ('command.py', 'engine.py', '__init__.py', '__pycache__/engine.cpython-311.pyc'):
        with open(os.path.join(old, name), 'w') as f:
            f.write('# 1.0.0\n')
    assert install(dest, BUNDLE).returncode == 0
    stray = os.path.join(dest, 'uvfleet', 'fs', 'gone.py')
    with open(stray, 'w') as f:
        f.write('# a module of an older version\n')
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep.py').write_text('keep me\n')
    os.symlink(str(outside), os.path.join(dest, 'uvfleet', 'linked'))
    os.makedirs(os.path.join(dest, 'uvfleet', 'fs', '__pycache__'))  # Python's, beside the sources: left alone
    names = sorted(BUNDLE)
    check = install(dest, names, '--prune', '--check')
    assert check.returncode == 0, check.stderr
    expected = ['removed perms', 'removed uvfleet/fs/gone.py', 'removed uvfleet/linked']
    assert check.stdout.splitlines() == expected
    assert os.path.exists(stray) and os.path.isdir(old)
    done = install(dest, names, '--prune')
    assert done.returncode == 0 and done.stdout.splitlines() == expected
    assert tree(dest) == ['uvfleet/', 'uvfleet/__init__.py', 'uvfleet/cmd/', 'uvfleet/cmd/main.py', 'uvfleet/fs/',
                          'uvfleet/fs/__pycache__/', 'uvfleet/fs/walk.py']
    assert (outside / 'keep.py').read_text() == 'keep me\n'  # the link was removed, not followed
    again = install(dest, names, '--prune')
    assert again.returncode == 0 and again.stdout == ''


def test_the_role_sends_every_package_of_the_library():
    """vars/main.yml names the library's packages (fileglob does not descend): one left out never reaches the nodes."""
    lib = os.path.join(REPO, 'plugins', 'module_utils')
    packages = set()
    for top, dirs, names in os.walk(os.path.join(lib, 'uvfleet')):
        dirs[:] = [d for d in dirs if d != '__pycache__']
        assert '__init__.py' in names, top  # AnsiballZ and bin/uvfleet import it as a package
        packages.add(os.path.relpath(top, lib))
    with open(os.path.join(REPO, 'roles', 'shared', 'vars', 'main.yml')) as f:
        role_vars = yaml.safe_load(f)
    assert set(role_vars['__uv_shared_node_lib_packages']) == packages
