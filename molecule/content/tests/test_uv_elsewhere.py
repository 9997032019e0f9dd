"""The shared role over a uv that came from elsewhere (issue 23, docs/shared.md "A uv from
elsewhere"): a distro package's /usr/bin/uv is used as it is (here the release binary copied
to /usr/bin, root's 0755, as the package leaves it); a uv a member could change (their file,
in a directory they can write, or below one) is refused before anything runs it, and never
run: the member's program in its place would leave a mark; a uv in the wrapper directory
(pip or the official installer into /usr/local/bin) is refused with the fix."""
import json

import pytest

from playbook_run import changed, failures, playbook
from uvfleet_story import REAL_UV, WRAPPER, as_user, explain, ok

DISTRO = {"uv_install_state": "absent", "uv_shared_real_bin_dir": "/usr/bin"}
MARK = "/var/tmp/uvfleet-member-program-ran"
# what a member puts where root would run uv: it leaves a mark when anyone runs it
PROGRAM = "#!/bin/sh\ntouch %s\nexec /usr/bin/uv \"$@\"\n" % MARK


def test_a_distro_uv_in_usr_bin_is_used_where_it_is(host):
    ok(host.run("install -o root -g root -m 0755 %s /usr/bin/uv", REAL_UV))
    ok(host.run("install -o root -g root -m 0755 %s /usr/bin/uvx", REAL_UV + "x"))
    rc, _stats, _tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(DISTRO)])
    assert rc == 0, out
    assert not host.file(REAL_UV).exists  # the install role's uv is gone: only /usr/bin's is left
    assert "exec /usr/bin/uv " in host.file(WRAPPER).content_string
    version = ok(host.run("/usr/bin/uv --version")).stdout
    assert ok(as_user(host, "alice", "uv --version")).stdout == version
    assert ok(as_user(host, "bob", "uvx --version")).stdout.split()[:2] == ["uvx", version.split()[1]]
    rc, stats, tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(DISTRO)])
    assert rc == 0 and all(s["changed"] == 0 for s in stats.values()), (changed(tasks), stats, out[-1500:])


# what the member does, as alice, where root would run uv
ATTACKS = {
    # root's uv and uvx in root's directory, but the uv file is alice's: she rewrites it
    "a member's uv": ("bin", "cp {program} {bin}/uv"),
    # the directory is the group's: she replaces root's uv with hers
    "a directory the group writes": ("bin", "rm -f {bin}/uv && cp {program} {bin}/uv"),
    # the directory above is the group's: she moves root's bin away and puts her own in its place
    "below a directory the group writes": ("base", "mv {bin} {bin}.root && mkdir {bin} && cp {program} {bin}/uv "
                                                   "&& cp {bin}.root/uvx {bin}/uvx"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_a_uv_a_member_could_change_is_refused_and_never_run(host, attack):
    base = "/srv/uv-attack"
    bindir = base + "/bin"
    program = "/var/tmp/uvfleet-member-program"
    ok(host.run("rm -rf %s %s && install -d -o root -g root -m 0755 %s", base, MARK, bindir))
    ok(host.run("printf %%s %s > %s && chmod 0755 %s", PROGRAM, program, program))
    for name in ("uv", "uvx"):
        ok(host.run("install -o root -g root -m 0755 /usr/bin/%s %s/%s", name, bindir, name))
    opened, command = ATTACKS[attack]
    if attack == "a member's uv":
        ok(host.run("chown alice %s/uv", bindir))
    else:
        ok(host.run("chown root:uvshared %s && chmod 2775 %s", *([bindir] * 2 if opened == "bin" else [base] * 2)))
    ok(as_user(host, "alice", command.format(program=program, bin=bindir)))
    before = ok(host.run("sha1sum %s /etc/uv/uv.toml", WRAPPER)).stdout
    rc, stats, tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(dict(DISTRO, uv_shared_real_bin_dir=bindir))])
    assert rc == 2, out
    messages = " ".join(failures(tasks))
    assert "refusing to run " + bindir + "/uv as root" in messages and "uvfleet.uv.install" in messages, messages or out
    assert stats and all(s["changed"] == 0 for s in stats.values()), (changed(tasks), stats)
    assert not host.file(MARK).exists, "root ran the member's program"
    assert ok(host.run("sha1sum %s /etc/uv/uv.toml", WRAPPER)).stdout == before
    ok(host.run("rm -rf %s %s", base, program))


def test_a_uv_in_the_wrapper_directory_is_refused_with_the_fix(host):
    # pip into the system Python, or the official installer with UV_INSTALL_DIR=/usr/local/bin
    rc, stats, tasks, out = playbook(["uvfleet.uv.site", "-e", json.dumps(dict(DISTRO, uv_shared_real_bin_dir="/usr/local/bin"))])
    assert rc == 2, out
    messages = " ".join(failures(tasks))
    assert "would overwrite the real uv binary" in messages and "point uv_shared_real_bin_dir there" in messages, messages
    assert stats and all(s["changed"] == 0 for s in stats.values()), (changed(tasks), stats)
    assert "exec /usr/bin/uv " in host.file(WRAPPER).content_string, explain(host.run("cat %s", WRAPPER))
