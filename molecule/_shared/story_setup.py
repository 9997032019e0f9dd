"""What the role set up: the group, the directories, uv.toml, the wrappers and the node command."""
import json

from uvfleet_story import (
    BIN_DIR, CACHE, GID, GROUP, PYTHON_DIR, REAL_UV, SHARED_DIRS, TOOL_DIR, WRAPPER, as_user, ok,
)


def test_the_group_has_its_fixed_gid_and_alice_and_bob_but_not_carol(host):
    group = host.group(GROUP)
    assert group.exists
    assert group.gid == GID
    assert GROUP in host.user("alice").groups
    assert GROUP in host.user("bob").groups
    assert GROUP not in host.user("carol").groups


def test_the_members_kept_their_own_groups(host):
    assert "alice" in host.user("alice").groups
    assert "bob" in host.user("bob").groups


def test_the_shared_directories_belong_to_root_and_the_group_setgid_without_sticky_bit(host):
    for path in SHARED_DIRS:
        d = host.file(path)
        assert d.is_directory, path
        assert d.user == "root", path
        assert d.group == GROUP, path
        assert d.mode == 0o2770, "%s has mode %o" % (path, d.mode)


def test_the_shared_directories_have_the_promised_default_acl_or_none(host, expect):
    for path in SHARED_DIRS:
        acl = ok(host.run("getfacl -c -d --absolute-names %s", path)).stdout.split()
        if expect["acl"]:
            assert acl == ["user::rwx", "group::rwx", "mask::rwx", "other::---"], (path, acl)
        else:
            assert acl == [], (path, acl)


def test_nothing_in_the_shared_directories_is_world_writable_except_uv_lock_files(host):
    found = host.run("find %s -perm -o+w ! -type l ! -name '*.lock'", " ".join(SHARED_DIRS)).stdout
    assert found == ""


def test_the_role_left_no_files_of_its_own_in_the_shared_directories(host):
    # uv cache prune deletes unknown top-level entries: no admin files in the cache.
    assert host.run("find %s -maxdepth 1 -name '.uvfleet*'", " ".join(SHARED_DIRS)).stdout == ""


def test_uv_toml_names_the_cache_and_the_link_mode_and_uv_accepts_it(host, expect):
    toml = host.file("/etc/uv/uv.toml")
    assert toml.user == "root" and toml.mode == 0o644
    assert 'cache-dir = "%s"' % CACHE in toml.content_string
    assert 'link-mode = "%s"' % expect["link_mode"] in toml.content_string
    assert "system-certs = true" in toml.content_string
    assert ok(host.run("%s --config-file /etc/uv/uv.toml cache dir", REAL_UV)).stdout.strip() == CACHE


def test_the_real_uv_lives_outside_path_and_the_wrappers_exec_it(host, expect):
    real = host.file(REAL_UV)
    assert real.is_file and real.user == "root" and real.mode == 0o755
    for name in ("uv", "uvx"):
        wrapper = host.file("/usr/local/bin/" + name)
        assert wrapper.user == "root" and wrapper.mode == 0o755
        content = wrapper.content_string
        assert content.startswith("#!/bin/sh\n# uvfleet.uv.shared wrapper")
        assert 'exec /usr/local/lib/uvfleet/bin/%s "$@"' % name in content
        assert ("umask 0007" in content) == expect["fallback"]
    for user in ("alice", "bob"):
        assert ok(as_user(host, user, "command -v uv")).stdout.strip() == WRAPPER
        assert ok(as_user(host, user, "uv --version")).stdout.startswith("uv 0.13.9")
        assert ok(as_user(host, user, "uvx --version")).stdout.startswith("uvx 0.13.9")


def test_login_shells_have_the_shared_bin_dir_on_path(host):
    path = ok(as_user(host, "bob", "echo $PATH")).stdout.strip().split(":")
    assert BIN_DIR in path


def test_a_users_own_setting_beats_the_wrapper_default(host):
    out = ok(as_user(host, "bob", "UV_TOOL_DIR=$HOME/my-tools uv tool dir")).stdout.strip()
    assert out == "/home/bob/my-tools"
    assert ok(as_user(host, "bob", "uv python dir")).stdout.strip() == PYTHON_DIR
    assert ok(as_user(host, "bob", "uv tool dir")).stdout.strip() == TOOL_DIR


def test_the_node_command_is_root_owned_and_audits_the_shared_directories(host):
    for path in ("/usr/local/bin/uvfleet", "/usr/local/lib/uvfleet/lib/uvfleet",
                 "/usr/local/lib/uvfleet/lib/uvfleet/cmd/main.py", "/etc/uvfleet/config.json"):
        f = host.file(path)
        assert f.exists and f.user == "root" and f.group == "root", path
        assert f.mode & 0o022 == 0, "%s has mode %o" % (path, f.mode)
    assert host.file("/usr/local/bin/uvfleet").content_string.startswith("#!/usr/bin/python3 -I\n")
    report = json.loads(ok(host.run("uvfleet audit --compact")).stdout)
    assert report["paths"] == SHARED_DIRS and report["scanned"] >= len(SHARED_DIRS)
    assert "repair" in ok(as_user(host, "alice", "uvfleet --help")).stdout
