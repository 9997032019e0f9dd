"""carol, outside the group, gets nothing: no listing, no reading, no uv, no change."""
from uvfleet_story import (
    CACHE, PYTHON_DIR, BIN_DIR, SHARED_DIRS, TOOL_DIR, as_user, audit, explain, tree_state, uv,
)


def test_carol_cannot_list_or_read_the_cache_or_the_group_directories(host):
    for path in SHARED_DIRS:
        listing = as_user(host, "carol", "ls %s" % path)
        assert listing.rc != 0 and "Permission denied" in listing.stderr, explain(listing)
    read = as_user(host, "carol", "cat %s/CACHEDIR.TAG" % CACHE)
    assert read.rc != 0 and "Permission denied" in read.stderr, explain(read)


def test_uv_fails_for_carol_with_a_permission_error_and_the_cache_is_unchanged(host):
    # alice's cron job (the cron channel) uses the cache every minute: pause cron so
    # that only carol acts while the cache is compared.
    host.run("systemctl stop cron")
    try:
        before = tree_state(host, CACHE)
        for args in ("venv ~/v", "pip install --system six", "cache clean", "python install --reinstall"):
            result = uv(host, "carol", args)
            assert result.rc != 0, explain(result)
            assert "Permission denied" in result.stderr, explain(result)
        assert tree_state(host, CACHE) == before
    finally:
        host.run("systemctl start cron")


def test_the_cache_perms_audit_is_clean_after_the_whole_story(ansible_host, expect):
    acl = "required" if expect["acl"] else "off"
    strict = audit(ansible_host, [CACHE, PYTHON_DIR], acl=acl)
    assert strict["remaining"] == {}, strict
    assert not strict["changed"]
    # Tool environments and bin dirs link outside their tree by design. uv gives the
    # scripts it generates the x bit for everyone (mode | 0o111, whatever the default
    # ACL says): harmless behind 2770 directories, and the role's repair removes it.
    linked = audit(ansible_host, [TOOL_DIR, BIN_DIR], acl=acl)
    assert set(linked["remaining"]) <= {"symlink_outside", "others_perms"}, linked
    others = [s for s in linked["samples"] if s["kind"] == "others_perms"]
    assert all(s["current"][3] in "01" for s in others), others
