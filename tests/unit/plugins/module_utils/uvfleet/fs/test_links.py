# -*- coding: utf-8 -*-
# Copyright: uvfleet maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Symlinks decided hop by hop (issue 7, hole 2; links.py): bounded cost, never resolved by path as root, links between managed roots."""

from __future__ import absolute_import, division, print_function

import os
import time

from ansible_collections.uvfleet.uv.plugins.module_utils.uvfleet.fs import links

from holes_testlib import JOBS, WORKER_SUBTREES, run, places, forked, findings_of_a_child_run, samples_of
from perms_testlib import autofs_trigger, make_dir, make_file, mkdirs_at


def chain(d, length, end):
    """l0000 -> l0001 -> ... -> l<length-1> -> end, all in directory d."""
    for i in range(length - 1):
        os.symlink('c%04d' % (i + 1), os.path.join(d, 'c%04d' % i))
    os.symlink(end, os.path.join(d, 'c%04d' % (length - 1)))


@JOBS
def test_symlink_chains_cost_a_bounded_time_and_the_run_still_reports(base, outside, forks, jobs):
    ds = places(base)
    chain(ds[0], 1000, 'good.py')
    make_file(os.path.join(ds[0], 'good.py'))
    for d in ds[1:3]:
        chain(os.path.join(d, 'pkg'), 990, os.path.join(outside, 'secret'))
    start = time.time()
    result = run(base, jobs, repair=False)
    elapsed = time.time() - start
    assert forked(forks, jobs)
    # the kernel follows at most 40 links: deeper links of a chain are unresolvable (counted),
    # the 40 nearest its end are inside (first chain) or outside (the others)
    assert result['findings']['symlink_outside'] == (1000 - 40) + 2 * 990
    assert elapsed < 30, elapsed  # resolving by path took 10 s for two chains of 990 alone
    unresolvable = [s for s in result['samples'] if 'unresolvable' in s['current']]
    assert unresolvable


@JOBS
def test_a_link_longer_than_path_max_that_leaves_the_tree_is_outside_not_dangling(base, outside, forks, jobs):
    ds = places(base)
    long_names = ['d%02d' % i + 'x' * 240 for i in range(18)]  # about 4,400 bytes of directories
    fars = []
    for d in (ds[0], ds[3]):
        fd = mkdirs_at(d, long_names)
        os.symlink(outside, 'escape', dir_fd=fd)  # the deepest directory holds a link out ...
        os.symlink('escape/secret', 'far', dir_fd=fd)  # ... and a short link through it
        os.close(fd)
        fars.append(os.path.join(d, *long_names) + '/far')
    assert len(fars[0]) > 4096  # resolving it by path: ENAMETOOLONG, then taken for dangling
    result = run(base, jobs, repair=False)
    assert forked(forks, jobs)
    outside_links = samples_of(result, 'symlink_outside')
    for far in fars:
        assert far in outside_links, far
        assert outside_links[far]['current'].startswith('-> escape/secret (resolves to %s/secret' % outside)
    assert 'symlink_dangling' not in result['findings']


@JOBS
def test_link_resolution_never_looks_outside_the_tree(base, outside, forks, jobs):
    """A link into a hung automount outside the tree: resolving it by path as root hangs the run."""
    with autofs_trigger(os.path.join(outside, 'auto')):
        for d in places(base):
            os.symlink(os.path.join(outside, 'auto', 'server', 'share'), os.path.join(d, 'nfs'))
        findings = findings_of_a_child_run(base, jobs, repair=False)
    assert findings['symlink_outside'] == 1 + WORKER_SUBTREES


def test_resolver_bounds():
    assert links.MAX_HOPS == 40 and links.MAX_LOOKUPS <= 1024


@JOBS
def test_links_between_managed_roots_only(base, outside, forks, jobs):
    """The role's tool and bin dirs: links into the other managed dirs are normal, anything else is not."""
    j = os.path.join
    python = make_dir(j(base, 'python'))
    tools = make_dir(j(base, 'tools'))
    bin_dir = make_dir(j(base, 'bin'))
    for d in (python, tools, bin_dir):
        os.chmod(d, 0o2770)
    os.chmod(base, 0o755)
    make_dir(j(python, 'cpython-3.12.3'))
    make_dir(j(python, 'cpython-3.12.3', 'bin'))
    make_file(j(python, 'cpython-3.12.3', 'bin', 'python3.12'), mode=0o770)
    os.symlink('cpython-3.12.3', j(python, 'cpython-3.12'))  # uv's minor-version link
    os.symlink('/etc', j(python, 'escape'))
    for i in range(WORKER_SUBTREES + 1):
        venv = make_dir(j(tools, 'tool%d' % i))
        make_dir(j(venv, 'bin'))
        os.symlink(j(python, 'cpython-3.12', 'bin', 'python3.12'), j(venv, 'bin', 'python'))
        os.symlink(j(venv, 'bin', 'python'), j(bin_dir, 'tool%d' % i))
        os.symlink('/etc/shadow', j(venv, 'bin', 'shadow'))  # a member's link: a finding
        os.symlink(j(python, 'escape', 'shadow'), j(venv, 'bin', 'via-python'))  # leaves through python/escape
        os.symlink(j(python, '..', '..', os.path.basename(outside), 'secret'), j(venv, 'bin', 'dotdot'))
    result = run([tools, bin_dir], jobs, repair=False, link_roots=[python, tools, bin_dir])
    assert result['findings'] == {'symlink_outside': 3 * (WORKER_SUBTREES + 1)}
    assert not [s for s in result['samples'] if s['path'].startswith(bin_dir)]
    plain = run([tools, bin_dir], jobs, repair=False)
    assert plain['findings'] == {'symlink_outside': 5 * (WORKER_SUBTREES + 1)}
