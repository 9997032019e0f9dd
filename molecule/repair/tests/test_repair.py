"""After the repair: the damage is gone, the planted symlink's target is untouched,
and every member of the group can install from the cache again."""
import json

import pytest

CACHE = "/srv/uv/cache"
GROUP = "uvshare"


def as_user(host, user, command):
    return host.run("runuser -l %s -c %s", user, command)


def uv(host, user, args):
    return as_user(
        host, user,
        "export UV_CACHE_DIR=%s UV_SYSTEM_CERTS=1 UV_LINK_MODE=copy && uv %s" % (CACHE, args),
    )


def load(host, path):
    return json.loads(host.file(path).content_string)


def test_the_repair_fixed_every_damaged_entry(host):
    damage = load(host, "/root/damage.json")
    report = load(host, "/root/repair-report.json")
    assert report["findings"] == damage["findings"]
    # The planted symlink is reported and left alone; everything else is fixed.
    assert report["remaining"] == {"symlink_outside": 1}
    fixable = {k: v for k, v in damage["findings"].items() if k != "symlink_outside"}
    assert report["fixed"] == fixable


def test_a_new_audit_finds_nothing_but_the_planted_symlink(host):
    audit = host.ansible("uvfleet.uv.cache_perms", "path=%s group=%s repair=false" % (CACHE, GROUP),
                         check=True, become=True)
    assert audit["findings"] == {"symlink_outside": 1}
    assert not audit["changed"]


def test_find_agrees_that_the_tree_follows_the_policy(host):
    # The repair never touches a symlink (the planted one is reported, not chowned).
    assert host.run("find %s ! -type l ! -group %s", CACHE, GROUP).stdout == ""
    assert host.run("find %s -perm -o+w ! -type l", CACHE).stdout == ""
    assert host.run("find %s -type f -perm /6000", CACHE).stdout == ""
    assert host.run("find %s -type d ! -perm -2070", CACHE).stdout == ""
    assert host.run("find %s -type d -perm -1000", CACHE).stdout == ""


def test_every_directory_has_the_default_acl_again(host):
    for path in load(host, "/root/damage.json")["entries"]["default_acl_missing"]:
        acl = host.check_output("getfacl -cp %s", path)
        assert "default:group::rwx" in acl
        assert "default:mask::rwx" in acl
        assert "default:other::---" in acl


def test_the_file_born_0600_under_the_acl_serves_the_group_again(host):
    born = [p for p in load(host, "/root/damage.json")["entries"]["acl_mask"] if p.endswith("born-0600.tmp")]
    assert born
    acl = host.check_output("getfacl -cp %s", born[0])
    assert "mask::rw-" in acl
    assert as_user(host, "bob", "test -r %s -a -w %s" % (born[0], born[0])).rc == 0


def test_the_planted_symlink_and_its_target_are_untouched(host):
    damage = load(host, "/root/damage.json")
    link = host.file(damage["entries"]["symlink_outside"][0])
    assert link.is_symlink and link.linked_to == "/etc/shadow"
    before = load(host, "/root/snapshot-before-repair.json")["/etc/shadow"]
    after = json.loads(host.check_output("python3 - /etc/shadow < /root/snapshot.py"))["/etc/shadow"]
    assert after == before
    assert as_user(host, "alice", "cat /etc/shadow").rc != 0


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_every_member_installs_from_the_cache_offline(host, user):
    as_user(host, user, "rm -rf ~/fresh")
    result = uv(host, user, "venv -q ~/fresh && UV_OFFLINE=1 uv pip install -q --python ~/fresh/bin/python six idna packaging attrs iniconfig")
    assert result.rc == 0, result.stderr
    imported = as_user(host, user, "~/fresh/bin/python -c 'import six, idna, packaging, attrs, iniconfig'")
    assert imported.rc == 0, imported.stderr
