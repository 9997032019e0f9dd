"""On a file system with reflinks, the shared cache costs no extra space in venvs and
still gives every member private venv files."""
import uvfleet_story as story
from uvfleet_story import GROUP, as_user, explain, imports, new_venv, ok, uv

CACHE = "/xfs/uv/cache"
SET = ["six", "idna", "packaging"]


def test_the_cache_and_the_homes_are_on_xfs(host):
    assert ok(host.run("stat -f -c %%T %s", CACHE)).stdout.strip() == "xfs"
    assert ok(as_user(host, "alice", "stat -f -c %T ~")).stdout.strip() == "xfs"


def test_link_mode_auto_picked_clone(host):
    toml = host.file("/etc/uv/uv.toml").content_string
    assert 'link-mode = "clone"' in toml
    assert 'cache-dir = "%s"' % CACHE in toml


def test_the_cache_is_the_groups(host):
    d = host.file(CACHE)
    assert (d.user, d.group, d.mode) == ("root", GROUP, 0o2770)


def test_alice_and_bob_install_and_their_venv_files_are_not_the_cache_inodes(host):
    new_venv(host, "alice", "app")
    result = ok(uv(host, "alice", "pip install -p ~/app " + " ".join(SET)))
    assert "falling back" not in result.stderr.lower(), explain(result)
    new_venv(host, "bob", "app")
    ok(uv(host, "bob", "pip install --offline -p ~/app " + " ".join(SET)))
    for user in ("alice", "bob"):
        imports(host, user, "app", SET)
        venv_file = ok(as_user(host, user, "ls ~/app/lib/python3*/site-packages/six.py")).stdout.strip()
        links, inode, owner = ok(host.run("stat -c '%%h %%i %%U' %s", venv_file)).stdout.split()
        assert links == "1" and owner == user, (venv_file, links, owner)
        cache_inodes = ok(host.run("find %s -name six.py -printf '%%i\\n'", CACHE)).stdout.split()
        assert cache_inodes and inode not in cache_inodes


def test_the_venv_files_share_their_blocks_with_the_cache(host):
    # A reflinked copy has extents flagged "shared"; a plain copy does not.
    venv_file = ok(as_user(host, "alice", "ls ~/app/lib/python3*/site-packages/six.py")).stdout.strip()
    extents = ok(host.run("filefrag -v %s", venv_file)).stdout
    assert "shared" in extents, extents


def test_the_cache_perms_audit_is_clean(ansible_host):
    strict = story.audit(ansible_host, [CACHE, story.PYTHON_DIR], acl="required")
    assert strict["remaining"] == {}, strict


def test_no_acl_package_and_still_default_acls(host):
    """The node has no setfacl/getfacl; the role set the default ACLs through the engine."""
    assert host.run("command -v setfacl").rc != 0
    assert host.run("dpkg-query -W -f='${Status}' acl").stdout.strip() != "install ok installed"
    # system.posix_acl_default read as the kernel stores it: header, then (tag, perm, id)
    script = ("import os, struct; d = os.getxattr(%r, 'system.posix_acl_default'); "
              "print(sorted(struct.unpack_from('<HH', d, o) for o in range(4, len(d), 8)))" % CACHE)
    entries = ok(host.run("python3 -c %s", script)).stdout.strip()
    # user::rwx group::rwx mask::rwx other::---
    assert entries == "[(1, 7), (4, 7), (16, 7), (32, 0)]", entries
