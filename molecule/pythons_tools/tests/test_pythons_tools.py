"""Pythons and tools the play installs for everyone, under both policies.

Debian 12 runs the managed policy today, after a collaborative last week; Debian 13 the
collaborative one both weeks (``policy`` fixture, from /srv/test-policy). Every user acts
through a real login shell. Between the two plays alice, a hostile member, planted her
Python, tool and receipts (files/hostile-member.sh); the attack tests are at the end.
"""
import json
import re

import pytest

from uvfleet_story import BIN_DIR, CACHE, GROUP, PYTHON_DIR, TOOL_DIR, as_user, explain, ok, uv

ROOT_CACHE = "/var/lib/uvfleet/uv-cache"
MANAGED = [PYTHON_DIR, TOOL_DIR, BIN_DIR]
WHEEL_PKG = TOOL_DIR + "/wheel/lib/python*/site-packages/wheel/__init__.py"
WORKER = "_uvfleet"
ROOT_MARK = "/root/ALICE-RAN-AS-ROOT"
TOOL_MARKER = "# uvfleet.uv.shared tool wrapper"


def only(policy, wanted):
    if policy != wanted:
        pytest.skip("%s policy only" % wanted)


def digest(host, paths=("/opt/uv",)):
    return ok(host.run("find %s -printf '%%p %%i %%s %%m %%u %%g %%T@\\n' | sort | sha256sum" % " ".join(paths))).stdout


def native(host):
    return ok(host.run("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")).stdout.strip()


def reports(host, path="/root/today-reports.jsonl"):
    """What today's play reported, one dict per converge (converge.yml)."""
    return [json.loads(line) for line in host.file(path).content_string.splitlines() if line.strip()]


def fails_with_permission_error(result):
    assert result.rc != 0, explain(result)
    assert "Permission denied" in result.stderr + result.stdout, explain(result)


# -- the second converge -------------------------------------------------------

def test_the_second_converge_changed_and_downloaded_nothing(host):
    digests = host.file("/root/converge-digests").content_string.split()
    assert len(digests) >= 2, digests
    n = len(digests)
    changed = host.run("diff /root/converge-digests.%s /root/converge-digests.%s", str(n - 1), str(n)).stdout
    assert digests[-1] == digests[-2], "the idempotence run changed /opt/uv, a cache or a wrapper:\n" + changed


# -- what root installed -------------------------------------------------------

def test_root_upgraded_wheel_and_everyone_in_the_group_runs_it(host):
    assert "0.43.0" in host.file("/root/lastweek-wheel.txt").content_string
    for user in ("alice", "bob"):
        assert "0.44.0" in ok(as_user(host, user, "wheel version")).stdout


def test_the_tools_are_reachable_wherever_uv_is(host):
    assert "0.44.0" in ok(host.run("sudo -u bob wheel version")).stdout
    assert "0.44.0" in ok(as_user(host, "alice", "ssh -n -o BatchMode=yes localhost wheel version")).stdout
    assert "0.44.0" in ok(host.run("systemd-run -q --wait --pipe --uid=bob wheel version")).stdout
    assert "0.44.0" in ok(as_user(host, "bob", "env -i /usr/local/bin/wheel version")).stdout


def test_pythons_root_no_longer_lists_are_pruned_only_when_managed(host, policy):
    lastweek = host.file("/root/lastweek-pythons.txt").content_string
    now = ok(host.run("ls %s", PYTHON_DIR)).stdout
    assert "cpython-3.9.2-linux-x86_64-gnu" in lastweek
    if policy == "managed":
        assert "cpython-%s" % native(host) in now
        assert "cpython-3.9" not in now, now
        assert not host.file("/opt/uv/tools/pyflakes").exists
        assert not host.file("/usr/local/bin/pyflakes").exists
    else:
        assert "cpython-3.9.2-linux-x86_64-gnu" in now
        ok(as_user(host, "bob", "pyflakes --version"))


def test_alices_venv_on_a_shared_interpreter_still_works(host):
    prefix = ok(as_user(host, "alice", "~/on-shared/bin/python -c 'import sys, json; print(sys.base_prefix)'")).stdout
    assert prefix.startswith(PYTHON_DIR), prefix


def test_the_self_check_audit_is_clean(ansible_host, policy):
    access = "read" if policy == "managed" else "write"
    for paths, tolerated in (([PYTHON_DIR], set()), ([TOOL_DIR, BIN_DIR], {"symlink_outside"})):
        result = ansible_host.ansible(
            "uvfleet.uv.cache_perms",
            json.dumps({"path": paths, "group": GROUP, "repair": False, "acl": "required", "group_access": access,
                        "exclude": [] if policy == "managed" else ["*.lock"], "exclude_locks": ["*.lock"]}),
            check=True, become=True)
        assert set(result["remaining"]) <= tolerated, result


# -- managed -------------------------------------------------------------------

def test_managed_dirs_belong_to_root_and_the_group_only_reads(host, policy):
    only(policy, "managed")
    # group r-x at most, no group or other write anywhere, others nothing but the x uv
    # gives executables (mode | 0o111: unreachable, every directory above is closed to
    # others, and no finding of the policy); the tool dir's .lock is uv's own 0666
    bad = ok(host.run("find %s ! -type l ! -path %s/.lock \\( ! -user root -o ! -group %s -o -perm /0026 "
                      "-o \\( ! -type f -perm /0001 \\) \\) -printf '%%p %%u %%m\\n'"
                      % (" ".join(MANAGED), TOOL_DIR, GROUP))).stdout
    assert bad == "", bad
    executables = ok(host.run("find %s -type f -perm -0001 | wc -l" % TOOL_DIR)).stdout
    assert int(executables) > 0  # the case above is real: uv's x for others is there


def test_root_installs_copy_nothing_is_hardlinked_from_a_cache(host, policy):
    only(policy, "managed")
    # uv's 0666 lock aside, which alice hardlinked into her home before the idempotence run
    # (converge.yml): the self-check of that run passed all the same
    assert ok(host.run("find %s -type f -links +1 ! -path %s/.lock" % (" ".join(MANAGED), TOOL_DIR))).stdout == ""
    assert ok(host.run("stat -c %%h %s", TOOL_DIR + "/.lock")).stdout.strip() == "2"
    tool_inodes = set(ok(host.run("find %s %s -type f -printf '%%i\\n'", TOOL_DIR, PYTHON_DIR)).stdout.split())
    cache_inodes = set(ok(host.run("find %s %s -type f -printf '%%i\\n'", CACHE, ROOT_CACHE)).stdout.split())
    assert tool_inodes and cache_inodes
    assert not tool_inodes & cache_inodes
    # the same file, copied: wheel's __init__.py in root's cache and in the tool venv
    pair = ok(host.run("stat -c '%%i %%h' %s $(find %s -path '*/wheel/__init__.py' | head -n 1)"
                       % (WHEEL_PKG, ROOT_CACHE))).stdout.strip().split("\n")
    ino_tool, links_tool = pair[0].split()
    ino_cache = pair[1].split()[0]
    assert ino_tool != ino_cache and links_tool == "1", pair


def test_managed_tool_venvs_run_on_a_root_owned_interpreter(host, policy):
    only(policy, "managed")
    for tool in ok(host.run("ls %s", TOOL_DIR)).stdout.split():
        if not host.file("%s/%s/bin/python" % (TOOL_DIR, tool)).exists:
            continue
        real = ok(host.run("realpath %s/%s/bin/python", TOOL_DIR, tool)).stdout.strip()
        assert real.startswith(PYTHON_DIR + "/"), real
        assert ok(host.run("stat -c %%U %s", real)).stdout.strip() == "root"


def test_members_running_managed_code_write_no_bytecode(host, policy):
    only(policy, "managed")
    before = digest(host)
    ok(as_user(host, "bob", "wheel version && wheel --help >/dev/null"))
    ok(as_user(host, "alice", "%s/python%s -c 'import json, email.mime.text, xml.dom.minidom'" % (BIN_DIR, native(host))))
    # even asked to, a member cannot write bytecode there: no directory is theirs to write
    result = as_user(host, "alice", "python3 -c \"import py_compile, glob; "
                     "py_compile.compile(glob.glob('%s')[0], doraise=True)\"" % WHEEL_PKG)
    assert result.rc != 0 and "Permission denied" in result.stderr, explain(result)
    assert digest(host) == before


def test_a_member_cannot_install_into_managed_dirs_and_nothing_changes(host, policy):
    only(policy, "managed")
    before = digest(host)
    fails_with_permission_error(uv(host, "alice", "python install 3.9"))
    fails_with_permission_error(uv(host, "bob", "tool install pycowsay"))
    fails_with_permission_error(uv(host, "bob", "tool uninstall wheel"))
    assert digest(host) == before


def test_members_run_uvx_beside_the_managed_tools_and_can_only_take_the_lock(host, policy):
    only(policy, "managed")
    before = digest(host)
    # uvx writes the tool dir's .gitignore the first time and takes its .lock: both are root's
    ok(as_user(host, "bob", "uvx -q pycowsay moo"))
    lock, ignore = host.file(TOOL_DIR + "/.lock"), host.file(TOOL_DIR + "/.gitignore")
    assert lock.is_file and lock.user == "root" and lock.mode == 0o666
    no_acl = host.run("python3 -c \"import os; os.getxattr('%s', 'system.posix_acl_access')\"", lock.path)
    assert no_acl.rc != 0 and "No data available" in no_acl.stderr, explain(no_acl)
    assert ignore.user == "root" and ignore.mode == 0o640 and ignore.content_string == "*"
    # the Python dir's lock is gone after root's installs: nobody but root needs it
    assert not host.file(PYTHON_DIR + "/.lock").exists
    # replacing the lock needs the directory; an outsider cannot even reach it
    assert as_user(host, "alice", "ln -sfn /etc/shadow %s/.lock" % TOOL_DIR).rc != 0
    assert as_user(host, "carol", "exec 3>>%s/.lock" % TOOL_DIR).rc != 0
    assert digest(host) == before


def test_alices_tampering_with_a_managed_tool_fails_and_bob_still_runs_it(host, policy):
    only(policy, "managed")
    before = digest(host)
    interpreter = ok(host.run("realpath %s/wheel/bin/python", TOOL_DIR)).stdout.strip()
    for attempt in (
        "echo 'import os' >> $(ls %s)" % WHEEL_PKG,
        "echo x >> %s/wheel/bin/wheel" % TOOL_DIR,
        "chmod 0777 %s/wheel/bin/wheel" % TOOL_DIR,
        "mv %s/wheel %s/wheel.old" % (TOOL_DIR, TOOL_DIR),
        "ln -sfn /tmp/evil %s/wheel" % BIN_DIR,
        "echo x >> %s" % interpreter,
        "chmod 0777 %s" % interpreter,
        "touch %s/wheel/lib/evil.pth" % TOOL_DIR,
        "setfacl -m u:alice:rwx %s/wheel/bin/wheel" % TOOL_DIR,
    ):
        result = as_user(host, "alice", attempt)
        assert result.rc != 0, (attempt, explain(result))
    assert digest(host) == before
    assert "0.44.0" in ok(as_user(host, "bob", "wheel version")).stdout


def test_a_collaborative_past_is_retired_as_it_was_not_adopted(host, policy):
    """The default uv_shared_retired_dirs: keep. Nothing in the retired dirs was changed."""
    only(policy, "managed")
    retired = ok(host.run("ls -d /opt/uv/*.retired-*")).stdout.split()
    names = sorted(re.sub(r"\.retired-\d{8}T\d{6}Z$", "", p) for p in retired)
    assert names == sorted(MANAGED), retired
    tools = [p for p in retired if p.startswith(TOOL_DIR + ".")][0]
    notes = host.file(tools + "/alice-notes/README")
    assert notes.content_string == "left by alice\n"
    assert (notes.user, notes.group, notes.mode) == ("alice", GROUP, 0o660)  # as she left it: no chown, no chmod
    assert not host.file(TOOL_DIR + "/alice-notes").exists
    # what members made stays theirs and reachable for them, to copy out what they need
    ok(as_user(host, "alice", "cat %s/alice-notes/README" % tools))


def test_what_a_member_does_instead_works(host, policy):
    only(policy, "managed")
    own = "UV_PYTHON_INSTALL_DIR=~/.local/share/uv/python UV_PYTHON_BIN_DIR=~/.local/bin"
    ok(as_user(host, "alice", "%s uv python install 3.9" % own))
    ok(as_user(host, "alice", "UV_TOOL_DIR=~/.local/share/uv/tools UV_TOOL_BIN_DIR=~/.local/bin "
                              "uv tool install pycowsay && ~/.local/bin/pycowsay hi"))
    # the shared interpreters stay usable next to her own
    ok(as_user(host, "alice", "uv venv -q --clear --managed-python -p %s ~/still-shared" % native(host)))


# -- collaborative (uv#8032) ----------------------------------------------------

def test_collaborative_root_alice_and_bob_share_the_python_dir(host, policy):
    only(policy, "collaborative")
    version = native(host)
    # root's play installed it as the worker account, never as root
    assert host.file(PYTHON_DIR + "/cpython-3.9.2-linux-x86_64-gnu").user == WORKER
    result = ok(uv(host, "alice", "python install %s" % version))
    assert "Installed Python" in result.stderr, explain(result)
    assert "Permission denied" not in result.stderr
    result = ok(uv(host, "bob", "python uninstall %s" % version))
    assert "Uninstalled" in result.stderr, explain(result)
    assert host.file(PYTHON_DIR + "/cpython-3.9.2-linux-x86_64-gnu").exists
    ok(as_user(host, "alice", "~/on-shared/bin/python -c 'import json'"))


def test_collaborative_a_tool_alice_installs_is_upgraded_by_bob(host, policy):
    only(policy, "collaborative")
    ok(uv(host, "alice", "tool install pycowsay==0.0.0.1"))
    assert host.file(TOOL_DIR + "/pycowsay").user == "alice"
    result = ok(uv(host, "bob", "tool install pycowsay==0.0.0.2"))
    assert "pycowsay==0.0.0.2" in result.stderr, explain(result)
    ok(as_user(host, "alice", "pycowsay moo"))
    ok(uv(host, "bob", "tool uninstall pycowsay"))


def test_root_runs_a_managed_tool_but_never_a_collaborative_one(host, policy):
    result = host.run("/usr/local/bin/wheel version")
    if policy == "managed":
        assert result.rc == 0 and "0.44.0" in result.stdout, explain(result)
    else:
        assert result.rc == 126 and "not run as root" in result.stderr, explain(result)


# -- outsiders -----------------------------------------------------------------

def test_carol_can_do_nothing_with_the_shared_dirs(host):
    before = digest(host)
    for attempt in ("wheel version", "ls /opt/uv/python", "ls /opt/uv/tools", "uv python install 3.9",
                    "uv tool install pycowsay", "python3 -c 'open(\"/opt/uv/bin/wheel\")'"):
        assert as_user(host, "carol", attempt).rc != 0, attempt
    assert digest(host) == before


# -- alice's attacks (files/hostile-member.sh), issue 18 -----------------------------

def test_alices_sitecustomize_never_ran_as_root(host, policy):
    """Her sitecustomize.py in the shared Pythons leaves /root/ALICE-RAN-AS-ROOT when it runs as root.

    Debian 12: root's request for her version was answered by her install until the switch
    retired it. Debian 13: the play queries that Python every run, as the worker account:
    her code did run (the mark of the worker's uid shows the attack was live), never as root.
    """
    assert not host.file(ROOT_MARK).exists, host.file(ROOT_MARK).content_string
    if policy == "collaborative":
        uid = ok(host.run("id -u %s", WORKER)).stdout.strip()
        assert host.file("/tmp/alice-marks/ran-as-%s" % uid).exists, ok(host.run("ls -l /tmp/alice-marks")).stdout


def test_the_managed_python_and_tool_are_roots_fresh_installs_not_hers(host, policy):
    only(policy, "managed")
    made = {}
    for line in host.file("/root/alice-made").content_string.splitlines():
        path, inode, owner = line.rsplit(" ", 2)
        made[path] = (inode, owner)
    version = native(host)
    hers = [p for p in made if re.match(r"%s/cpython-%s\.\d+-linux-[^/]*$" % (re.escape(PYTHON_DIR), re.escape(version)), p)]
    assert len(hers) == 1 and made[hers[0]][1] == "alice", made
    for path in hers + [TOOL_DIR + "/wheel"]:
        now = host.file(path)
        assert now.is_directory and now.user == "root", path
        assert ok(host.run("stat -c %%i %s", path)).stdout.strip() != made[path][0], "%s is still her inode" % path
    assert ok(host.run("find %s -name sitecustomize.py", PYTHON_DIR)).stdout == ""
    assert ok(host.run("find %s ! -user root -printf '%%p\\n'" % " ".join(MANAGED))).stdout == ""
    # her install and her tool are in the retired dirs, untouched, sitecustomize.py included
    assert ok(host.run("find /opt/uv/python.retired-* -name sitecustomize.py -user alice")).stdout.strip()
    assert ok(host.run("find /opt/uv/tools.retired-*/wheel -maxdepth 0 -user alice")).stdout.strip()
    # the managed wheel runs on root's fresh interpreter, for everyone
    assert "0.44.0" in ok(as_user(host, "bob", "wheel version")).stdout


def test_no_wrapper_for_a_name_a_member_wrote_into_a_receipt(host, policy):
    """ls, uv, ../x, a name with a newline, python3, and a name without a file in the venv."""
    wrappers = ok(host.run("grep -lsF %s /usr/local/bin/* /usr/local/sbin/* /usr/local/* || true",
                           TOOL_MARKER)).stdout.split()
    expected = {"/usr/local/bin/wheel"} | ({"/usr/local/bin/pyflakes"} if policy == "collaborative" else set())
    assert set(wrappers) == expected, wrappers
    for path in ("/usr/local/bin/ls", "/usr/local/bin/python3", "/usr/local/bin/ghost", "/usr/local/x",
                 "/usr/local/bin/x"):
        assert not host.file(path).exists, path
    assert "# uvfleet.uv.shared wrapper for" in host.file("/usr/local/bin/uv").content_string
    assert ok(host.run("find /usr/local -newer /root/pythons_tools.lastweek -name '*[!a-zA-Z0-9._+-]*' "
                       "! -path '/usr/local/lib/*'")).stdout == ""
    assert ok(as_user(host, "carol", "ls / >/dev/null"))  # an outsider's ls is the system's
    if policy == "collaborative":
        # every run reports them (and the play goes on: a member must not be able to fail it)
        for report in reports(host):
            refused = report["no_wrapper"]
            for name in ("ls", "uv", "../x", "a\\\\nb", "python3", "ghost"):
                assert any('"%s"' % name in row for row in refused), (name, refused)


def test_a_receipts_install_path_is_never_deleted_as_root(host, policy):
    """pyjokes' receipt names /etc/alice-victim; today's play uninstalls pyjokes."""
    assert host.file("/etc/alice-victim").content_string == "a file of root's\n"
    assert not host.file(TOOL_DIR + "/pyjokes").exists
    assert not host.file("/usr/local/bin/pyjoke").exists
    if policy == "collaborative":
        first = reports(host)[0]["tools"]
        assert first["user"] == WORKER and "pyjokes" in first["removed"], first
        assert any("pyjokes" in w and "/etc/alice-victim" in w for w in first["warnings"]), first


def test_collaborative_installs_run_as_the_worker_account(host, policy):
    only(policy, "collaborative")
    for report in reports(host):
        assert report["pythons"]["user"] == WORKER and report["tools"]["user"] == WORKER, report
    assert host.file("/root/lastweek-python-owner.txt").content_string.strip() == WORKER
    assert host.file(TOOL_DIR + "/wheel").user == WORKER
    assert ok(host.run("find %s %s -mindepth 1 -user root -printf '%%p\\n'", PYTHON_DIR, TOOL_DIR)).stdout == ""


def test_check_mode_reported_the_retirement_and_changed_nothing(host, policy):
    """converge.yml runs today's play with --check first, on the node that switches."""
    only(policy, "managed")
    digests = host.file("/root/checkrun-digests").content_string.split()
    assert len(digests) == 2 and digests[0] == digests[1], "the check run changed something"
    report = json.loads(host.file("/root/checkrun-report.json").content_string)
    assert report["check_mode"] is True
    # checkrun.yml moved the node command's library aside: the check run staged this
    # collection's for its scripts, removed the stage, and wrote no library
    assert "/uvfleet-lib." in report["lib_staged"] and not report["lib_written"], report
    assert not host.file(report["lib_staged"]).exists
    assert sorted(report["retire"]["retiring"]) == sorted(MANAGED), report
    first = reports(host)[0]["retire"]
    assert sorted(r["dir"] for r in first["retired"]) == sorted(MANAGED), first
    assert {r["to"] for r in first["retired"]} == set(ok(host.run("ls -d /opt/uv/*.retired-*")).stdout.split())
    assert all(r["why"] for r in first["retired"]), first
    assert not reports(host)[-1]["retire"]["retired"]  # the second converge retires nothing
