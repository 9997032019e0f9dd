# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""uvsettings names the setting that decides uv's cache dir: checked against what the real uv reports."""

from __future__ import absolute_import, division, print_function

import os
import subprocess

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.doctor import uvsettings

import doctor_node


def write(path, text):
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path))
    with open(path, 'w') as handle:
        handle.write(text)
    return path


@pytest.fixture
def world(tmp_path):
    """A home, a system file found through XDG_CONFIG_DIRS, a project with a subdirectory."""
    root = str(tmp_path)
    home = os.path.join(root, 'home')
    xdg = os.path.join(root, 'xdg')
    system = write(os.path.join(xdg, 'uv', 'uv.toml'), 'cache-dir = "/srv/system-cache"\n')
    project = os.path.join(root, 'proj')
    cwd = os.path.join(project, 'src', 'pkg')
    os.makedirs(cwd)
    os.makedirs(home)
    env = {'HOME': home, 'PATH': '/usr/bin:/bin', 'XDG_CONFIG_DIRS': xdg}
    return {'root': root, 'home': home, 'system': system, 'project': project, 'cwd': cwd, 'env': env, 'xdg': xdg}


def uv_cache_dir(world, env):
    out = subprocess.check_output([doctor_node.real_uv(), 'cache', 'dir'], cwd=world['cwd'], env=env)
    return os.path.normpath(os.path.join(world['cwd'], out.decode().strip()))


def agree(world, env, kind, where, value):
    found = uvsettings.source('cache-dir', 'UV_CACHE_DIR', env, world['cwd'], world['home'])
    assert (found.kind, found.where, found.value) == (kind, where, value)
    if kind != 'default':
        assert uv_cache_dir(world, env) == os.path.normpath(os.path.join(world['cwd'], value))


def test_the_system_file_through_xdg_config_dirs(world):
    agree(world, world['env'], 'system', world['system'], '/srv/system-cache')


def test_the_user_file_beats_the_system_file_with_xdg_config_home_or_home(world):
    user = write(os.path.join(world['home'], '.config', 'uv', 'uv.toml'),
                 "# c\n[pip]\ncompile-bytecode = true\n")
    agree(world, world['env'], 'system', world['system'], '/srv/system-cache')
    write(user, "link-mode = 'copy'\ncache-dir = '/srv/user-cache'   # mine\n[pip]\ncompile-bytecode = true\n")
    agree(world, world['env'], 'user', user, '/srv/user-cache')
    other = write(os.path.join(world['root'], 'cfg', 'uv', 'uv.toml'), 'cache-dir = "/srv/xdg-home"\n')
    env = dict(world['env'], XDG_CONFIG_HOME=os.path.join(world['root'], 'cfg'))
    agree(world, env, 'user', other, '/srv/xdg-home')


def test_the_nearest_project_file_beats_the_user_file_uv_toml_before_pyproject(world):
    write(os.path.join(world['home'], '.config', 'uv', 'uv.toml'), 'cache-dir = "/srv/user-cache"\n')
    pyproject = write(os.path.join(world['project'], 'pyproject.toml'),
                      '[project]\nname = "p"\nversion = "1"\n\n[tool.uv]\ncache-dir = "/srv/pyproject-cache"\n')
    agree(world, world['env'], 'project', pyproject, '/srv/pyproject-cache')
    # inside a project uv reads the project root's files: a uv.toml between it and cwd does not count
    write(os.path.join(world['project'], 'src', 'uv.toml'), 'cache-dir = "/srv/nearer"\n')
    agree(world, world['env'], 'project', pyproject, '/srv/pyproject-cache')
    # outside any project the nearest file from cwd upwards counts
    write(pyproject, '[tool.uv]\ncache-dir = "/srv/pyproject-cache"\n')
    agree(world, world['env'], 'project', os.path.join(world['project'], 'src', 'uv.toml'), '/srv/nearer')


def test_a_project_file_without_the_key_still_hides_nothing_below_it(world):
    # uv reads the nearest project file only; one without cache-dir leaves the user's setting in force
    write(os.path.join(world['project'], 'uv.toml'), 'link-mode = "copy"\n')
    user = write(os.path.join(world['home'], '.config', 'uv', 'uv.toml'), 'cache-dir = "/srv/user-cache"\n')
    agree(world, world['env'], 'user', user, '/srv/user-cache')


def test_the_variable_beats_every_file_and_uv_no_config_or_uv_config_file_change_the_files(world):
    write(os.path.join(world['home'], '.config', 'uv', 'uv.toml'), 'cache-dir = "/srv/user-cache"\n')
    agree(world, dict(world['env'], UV_CACHE_DIR='/srv/env-cache'), 'env', 'UV_CACHE_DIR', '/srv/env-cache')
    env = dict(world['env'], UV_NO_CONFIG='1')
    agree(world, env, 'default', None, None)
    assert uv_cache_dir(world, env) == os.path.join(world['home'], '.cache', 'uv')
    assert uvsettings.notes(env, world['system'])[0][0] == 'UV_NO_CONFIG'
    chosen = write(os.path.join(world['root'], 'chosen.toml'), 'cache-dir = "/srv/chosen"\n')
    agree(world, dict(world['env'], UV_CONFIG_FILE=chosen), 'config_file', chosen, '/srv/chosen')


def test_xdg_config_dirs_without_a_uv_toml_falls_back_to_etc(world):
    env = dict(world['env'], XDG_CONFIG_DIRS=os.path.join(world['root'], 'empty'))
    assert uvsettings.system_file(env) == uvsettings.SYSTEM_FILE
    assert uvsettings.notes(env, uvsettings.SYSTEM_FILE) == []
    assert uvsettings.notes(world['env'], uvsettings.SYSTEM_FILE)[0][0] == 'XDG_CONFIG_DIRS'


def test_toml_string_reads_plain_strings_only_where_uv_would():
    text = '\n'.join([
        'cache-dir = "/a\\\\b"  # comment', '[tool.uv]', "cache-dir = 'literal'", '[tool.uv.pip]', 'cache-dir = "no"',
    ])
    assert uvsettings.toml_string(text, 'cache-dir') == '/a\\b'
    assert uvsettings.toml_string(text, 'cache-dir', 'tool.uv') == 'literal'
    assert uvsettings.toml_string('link-mode = 3\n', 'link-mode') == '3'
    assert uvsettings.toml_string('x = "y"\n', 'cache-dir') is None


def test_a_user_file_kept_elsewhere_and_linked_is_read_as_uv_reads_it(world):
    """uv follows a symlinked uv.toml (dotfiles): the doctor names it too."""
    kept = write(os.path.join(world['root'], 'dotfiles', 'uv.toml'), 'cache-dir = "/srv/dotfiles-cache"\n')
    user = os.path.join(world['home'], '.config', 'uv', 'uv.toml')
    os.makedirs(os.path.dirname(user))
    os.symlink(kept, user)
    agree(world, world['env'], 'user', user, '/srv/dotfiles-cache')
