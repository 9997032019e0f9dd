"""`uvfleet doctor` as the members see it: each classic cause, named with its fix.

Every test runs the real node command as a real user in a login shell and parses
its --json report; each one undoes what it changed (the other stories share the
container).
"""
import json
import os

from uvfleet_story import CACHE, GID, GROUP, PYTHON_DIR, TOOL_DIR, WRAPPER, as_user, explain, ok

LOCK = CACHE + "/.lock"


def doctor(host, user, prefix="", args=""):
    """(exit status, report, {name: check}) of `uvfleet doctor --json` in a login shell of user."""
    result = as_user(host, user, "%s uvfleet doctor --json %s" % (prefix, args))
    assert result.rc in (0, 1), explain(result)
    report = json.loads(result.stdout)
    assert report["exit"] == result.rc and report["user"] == user
    return result.rc, report, {check["name"]: check for check in report["checks"]}


def not_ok(checks):
    return {name: (c["status"], c["summary"], c["cause"]) for name, c in checks.items() if c["status"] != "ok"}


def timed_doctor(host, user):
    """Wall time in seconds of `uvfleet doctor` (the whole command, measured inside the node) and its exit status."""
    script = 's=$(date +%s%N); uvfleet doctor >/dev/null; rc=$?; e=$(date +%s%N); echo "$rc $(( (e - s) / 1000000 ))"'
    rc, millis = ok(as_user(host, user, script)).stdout.split()
    return int(rc), int(millis) / 1000.0


def note_time(line):
    """Keep the measured run time in build/doctor-times.txt (the report of a run names it)."""
    print(line)
    project = os.environ.get("MOLECULE_PROJECT_DIRECTORY")
    if project and os.path.isdir(os.path.join(project, "build")):
        with open(os.path.join(project, "build", "doctor-times.txt"), "a") as handle:
            handle.write(line + "\n")


def test_a_healthy_member_gets_every_check_ok_exit_0_in_under_two_seconds(host):
    for user in ("alice", "bob"):
        code, report, checks = doctor(host, user)
        assert code == 0 and report["ok"] and report["warnings"] == 0, not_ok(checks)
        assert all(c["status"] == "ok" for c in checks.values()), not_ok(checks)
        assert checks["group"]["summary"] == "%s is a member of %s, and this session has the group" % (user, GROUP)
        assert checks["uv"]["summary"] == "uv on your PATH is the shared wrapper %s" % WRAPPER
        assert checks["cache_dir"]["summary"] == "uv uses the shared cache %s" % CACHE
        assert checks["python_dir"]["details"]["path"] == PYTHON_DIR
        assert checks["tool_dir"]["details"]["path"] == TOOL_DIR
        assert checks["cache_lock"]["summary"] == "uv's shared lock on %s: taken and released" % LOCK
        assert checks["cache_read"]["summary"].startswith("you can read %s/" % CACHE)
        assert "default ACL" in checks["group_usable"]["summary"]
        code, seconds = timed_doctor(host, user)
        assert code == 0 and seconds < 2.0, seconds
        note_time("%s %s: uvfleet doctor %.2f s (checks %.3f s)"
                  % (host.backend.get_hostname(), user, seconds, report["seconds"]))


def test_bob_added_while_his_session_runs_is_told_to_log_in_again_and_a_fresh_login_is_ok(host):
    script = r"""
set -eu
rm -f /tmp/doctor-old.*
gpasswd -d bob {group} >/dev/null
runuser -l bob -c 'id -G > /tmp/doctor-old.groups.new && mv /tmp/doctor-old.groups.new /tmp/doctor-old.groups
  while [ ! -e /tmp/doctor-old.go ]; do sleep 0.1; done
  uvfleet doctor --json > /tmp/doctor-old.json; echo $? > /tmp/doctor-old.rc' &
while [ ! -e /tmp/doctor-old.groups ]; do sleep 0.1; done
gpasswd -a bob {group} >/dev/null
touch /tmp/doctor-old.go
wait
""".format(group=GROUP)
    try:
        ok(host.run("bash -c %s", script))
    finally:
        host.run("gpasswd -a bob %s", GROUP)
    session_groups = host.file("/tmp/doctor-old.groups").content_string.split()
    assert str(GID) not in session_groups
    assert host.file("/tmp/doctor-old.rc").content_string.strip() == "1"
    report = json.loads(host.file("/tmp/doctor-old.json").content_string)
    checks = {check["name"]: check for check in report["checks"]}
    group = checks["group"]
    assert report["exit"] == 1 and group["status"] == "problem"
    assert group["summary"] == ("bob was added to %s after this session started: this session does not have "
                                "the group yet" % GROUP)
    assert group["fix"] == "log in again (a new ssh or desktop session), or run `newgrp %s` in this shell" % GROUP
    assert group["details"]["in_group_database"] is True and group["details"]["in_session"] is False
    assert checks["cache_write"]["status"] == "problem"
    assert "Permission denied" in checks["cache_write"]["summary"]
    assert "this session does not have the group %s" % GROUP in checks["cache_write"]["cause"]
    host.run("rm -f /tmp/doctor-old.*")
    code, _report, checks = doctor(host, "bob")
    assert code == 0 and checks["group"]["status"] == "ok", not_ok(checks)


def test_carol_is_told_she_is_not_a_member_and_which_group_to_ask_for(host):
    code, report, checks = doctor(host, "carol")
    assert code == 1 and not report["ok"]
    group = checks["group"]
    assert group["status"] == "problem"
    assert group["summary"] == "carol is not a member of the group %s, which the shared uv directories require" % GROUP
    assert group["fix"] == ("ask the node's admin (the uvfleet.uv.shared role, variable uv_shared_group_members) "
                            "to add carol to the group %s, then log in again" % GROUP)
    write = checks["cache_write"]
    assert write["status"] == "problem" and "Permission denied" in write["summary"]
    assert write["fix"] == group["fix"]
    text = as_user(host, "carol", "uvfleet doctor")
    assert text.rc == 1 and "problem  group          carol is not a member of the group %s" % GROUP in text.stdout


def test_alice_with_her_own_uv_first_on_path_is_warned_that_it_bypasses_the_wrapper(host):
    own = "/home/alice/.local/bin"
    made_dir = host.run("test -d %s", own).rc != 0
    ok(host.run("install -d -o alice -g alice %s && install -o alice -g alice -m 0755 "
                "/usr/local/lib/uvfleet/bin/uv %s/uv", own, own))
    try:
        assert ok(as_user(host, "alice", "PATH=$HOME/.local/bin:$PATH command -v uv")).stdout.strip() == own + "/uv"
        code, report, checks = doctor(host, "alice", prefix="PATH=$HOME/.local/bin:$PATH")
    finally:
        host.run("rm -f %s/uv", own)
        if made_dir:
            host.run("rmdir %s", own)
    assert code == 0 and report["problems"] == 0, not_ok(checks)
    uv = checks["uv"]
    assert uv["status"] == "warning"
    assert uv["summary"] == "%s/uv comes first on your PATH and bypasses the shared wrapper %s" % (own, WRAPPER)
    assert uv["fix"] == ("remove or rename %s/uv, or put /usr/local/bin before %s in PATH "
                         "(`export PATH=/usr/local/bin:$PATH`)" % (own, own))
    assert "UV_PYTHON_INSTALL_DIR" in uv["cause"]
    python = checks["python_dir"]
    assert python["status"] == "warning"
    assert python["summary"] == ("uv uses /home/alice/.local/share/uv/python, not the shared Python dir %s: your "
                                 "uv %s/uv bypasses the wrapper" % (PYTHON_DIR, own))
    assert checks["tool_dir"]["status"] == "warning"
    assert checks["cache_dir"]["status"] == "ok"  # /etc/uv/uv.toml reaches every uv


def test_a_private_uv_cache_dir_is_named_as_the_override(host):
    code, _report, checks = doctor(host, "bob", prefix="UV_CACHE_DIR=$HOME/private-cache")
    assert code == 0
    cache = checks["cache_dir"]
    assert cache["status"] == "warning"
    assert cache["summary"] == ("uv uses /home/bob/private-cache, not the shared cache %s: "
                                "UV_CACHE_DIR=/home/bob/private-cache overrides it" % CACHE)
    assert cache["fix"] == "unset UV_CACHE_DIR (`unset UV_CACHE_DIR`, and remove it from your shell start files)"
    assert host.run("test -e /home/bob/private-cache").rc != 0  # the doctor created nothing there


def test_a_user_uv_toml_with_cache_dir_is_named_as_the_override(host):
    toml = "/home/bob/.config/uv/uv.toml"
    assert not host.file(toml).exists
    made = host.run("test -d /home/bob/.config/uv").rc != 0
    ok(as_user(host, "bob", "mkdir -p ~/.config/uv && printf 'cache-dir = \"%s\"\\n' ~/toml-cache > " + toml))
    try:
        code, _report, checks = doctor(host, "bob")
    finally:
        host.run("rm -f %s", toml)
        if made:
            host.run("rmdir /home/bob/.config/uv")
    assert code == 0
    cache = checks["cache_dir"]
    assert cache["status"] == "warning"
    assert cache["summary"] == ("uv uses /home/bob/toml-cache, not the shared cache %s: cache-dir in %s "
                                "overrides it" % (CACHE, toml))
    assert cache["fix"] == "remove the cache-dir line from %s" % toml


def test_a_cache_lock_held_exclusively_is_busy_not_broken_and_the_doctor_does_not_hang(host):
    assert host.file(LOCK).is_file
    # this shell holds uv's lock exclusively (as `uv cache clean` does) for longer than the doctor waits
    script = r"""
exec 9<>{lock}
flock -x 9
s=$(date +%s%N)
runuser -l bob -c 'uvfleet doctor --json' > /tmp/doctor-busy.json
echo "$? $(( ($(date +%s%N) - s) / 1000000 ))"
flock -u 9
""".format(lock=LOCK)
    result = ok(host.run("bash -c %s", script))
    rc, millis = result.stdout.split()
    report = json.loads(host.file("/tmp/doctor-busy.json").content_string)
    host.run("rm -f /tmp/doctor-busy.json")
    checks = {check["name"]: check for check in report["checks"]}
    lock = checks["cache_lock"]
    assert int(rc) == 0 and report["exit"] == 0
    # it waits --lock-wait (1 s) and says so; the whole command (login shell, python, uv) stays bounded
    assert 1.0 <= lock["details"]["waited"] < 1.5 and report["seconds"] < 3.0, report["seconds"]
    assert int(millis) < 6000, millis
    assert lock["status"] == "warning"
    # the holder is named where /proc/locks shows it (not for flocks on the container's overlayfs)
    assert lock["summary"].startswith("the cache lock %s is busy (not broken): " % LOCK)
    assert lock["summary"].endswith("holds it exclusively; waited 1.0 s")
    assert lock["details"]["busy"] is True and "broken" not in lock["details"]
    assert "uv cache clean" in lock["cause"] and "UV_LOCK_TIMEOUT" in lock["cause"]
    # and the lock is free again for uv
    assert ok(as_user(host, "bob", "uv cache dir")).stdout.strip() == CACHE
