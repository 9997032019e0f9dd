"""The upgrade from 1.0.0 (prepare.yml converged the node with it): no stale library file, the jobs still run.

1.0.0 installed the node command's library as a flat perms/ directory; the new
collection installs the package uvfleet/ and removes what an older layout left, after
the node command itself is replaced. Runs first (file order), right after the converge
of the new collection and its idempotence check.
"""
import os

from uvfleet_story import ok

LIB = "/usr/local/lib/uvfleet/lib"
METRICS = "/var/lib/prometheus/node-exporter/uvfleet.prom"
CHECKOUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "plugins", "module_utils")


def library_of_the_checkout():
    """Every entry the role installs: the package's .py files and their directories, with a trailing slash."""
    out = set()
    for top, dirs, files in os.walk(os.path.join(CHECKOUT, "uvfleet")):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        rel = os.path.relpath(top, CHECKOUT)
        out.add(rel + "/")
        out.update(os.path.join(rel, name) for name in files if name.endswith(".py"))
    return out


def test_the_node_was_converged_by_1_0_0_first(host):
    before = host.file("/root/uvfleet-1.0.0-lib.list").content_string.split()
    assert "perms" in before and "perms/command.py" in before and "perms/engine.py" in before, before
    assert not [entry for entry in before if entry.startswith("uvfleet")], before


def test_no_file_of_the_old_library_is_left_and_the_new_one_is_whole(host):
    listed = ok(host.run("find %s -mindepth 1 -name __pycache__ -prune -o \\( -type d -printf '%%P/\\n' \\) "
                         "-o -printf '%%P\\n'" % LIB)).stdout.split()
    assert not host.file(LIB + "/perms").exists
    assert set(listed) == library_of_the_checkout()
    for entry in listed:
        f = host.file(os.path.join(LIB, entry))
        assert (f.user, f.group) == ("root", "root") and f.mode == (0o755 if entry.endswith("/") else 0o644), entry
    for entry in library_of_the_checkout():
        if not entry.endswith("/"):
            with open(os.path.join(CHECKOUT, entry), "rb") as mine:
                assert host.file(os.path.join(LIB, entry)).content == mine.read(), entry


def test_the_scheduled_jobs_keep_running_after_the_upgrade(host):
    for timer in ("uvfleet-maintain.timer", "uvfleet-verify.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running, timer
        assert ok(host.run("systemctl show %s -p NextElapseUSecRealtime --value" % timer)).stdout.strip(), timer
    assert not host.file(METRICS).exists  # the converge never runs the job (prepare.yml removed 1.0.0's)
    ok(host.run("systemctl start uvfleet-maintain.service"))  # oneshot: returns when the run has ended
    shown = ok(host.run("systemctl show uvfleet-maintain.service -p Result -p ExecMainStatus")).stdout.split()
    assert sorted(shown) == ["ExecMainStatus=0", "Result=success"], shown
    assert "uvfleet_maintenance_success 1" in host.file(METRICS).content_string.splitlines()
    # the node goes on as a fresh converge leaves it: test_maintenance.py starts from a job that has not run
    ok(host.run("rm -f %s" % METRICS))
