"""The environment-only settings reach every way a command starts.

Each channel runs /srv/channel-probe.sh as alice (prepare installed it): it records
what uv sees (uv python dir, uv tool dir, ...) and the umask uv's children get.
"""
from uvfleet_story import (
    BIN_DIR, CACHE, PYTHON_DIR, TOOL_DIR, WRAPPER, as_user, file_mtime, ok, read_kv, wait_for,
)

OUT = "/home/alice/channels"


def assert_probe(host, channel, expect):
    seen = read_kv(host, "%s/%s.out" % (OUT, channel))
    assert seen.get("user") == "alice", (channel, seen)
    assert seen.get("python_dir") == PYTHON_DIR, (channel, seen)
    assert seen.get("python_bin_dir") == BIN_DIR, (channel, seen)
    assert seen.get("tool_dir") == TOOL_DIR, (channel, seen)
    assert seen.get("tool_bin_dir") == BIN_DIR, (channel, seen)
    assert seen.get("cache_dir") == CACHE, (channel, seen)
    if expect["fallback"]:
        assert seen.get("uv_umask") == "0007", (channel, seen)


def fresh(host, channel, since):
    mtime = file_mtime(host, "%s/%s.out" % (OUT, channel))
    return mtime is not None and mtime >= since


def now(host):
    return int(ok(host.run("date +%s")).stdout)


def test_a_login_shell_sees_the_shared_settings(host, expect):
    ok(as_user(host, "alice", "/srv/channel-probe.sh %s/login.out" % OUT))
    assert_probe(host, "login", expect)


def test_ssh_host_cmd_sees_the_shared_settings(host, expect):
    ok(as_user(host, "alice", "ssh -n -o BatchMode=yes localhost /srv/channel-probe.sh %s/ssh.out" % OUT))
    assert_probe(host, "ssh", expect)


def test_a_system_service_with_user_sees_the_shared_settings(host, expect):
    ok(host.run("systemctl daemon-reload && systemctl start uvfleet-channel-probe.service"))
    assert_probe(host, "systemd", expect)


def test_an_at_job_sees_the_shared_settings(host, expect):
    start = now(host)
    ok(as_user(host, "alice", "echo '/srv/channel-probe.sh %s/at.out' | at now 2>&1" % OUT))
    wait_for(lambda: fresh(host, "at", start), 60, "the at job")
    assert_probe(host, "at", expect)


def test_a_cron_job_sees_the_shared_settings(host, expect):
    # alice's crontab (from prepare) runs the probe every minute; wait for a run
    # after the wrapper was installed.
    installed = file_mtime(host, WRAPPER)
    wait_for(lambda: fresh(host, "cron", installed + 1), 90, "a cron run after the converge")
    assert_probe(host, "cron", expect)


def test_sudo_and_an_empty_environment_see_the_shared_settings(host):
    # From /: uv looks for a uv.toml in the working directory and its parents, and root's
    # SSH session starts in /root, which alice may not enter (uv then fails, rightly).
    assert ok(host.run("cd / && sudo -u alice %s python dir", WRAPPER)).stdout.strip() == PYTHON_DIR
    assert ok(as_user(host, "alice", "env -i %s tool dir" % WRAPPER)).stdout.strip() == TOOL_DIR
