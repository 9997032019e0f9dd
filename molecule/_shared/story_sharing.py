"""alice (umask 077) and bob (umask 022) share one cache; it serves both of them."""
from uvfleet_story import (
    CACHE, GROUP, WHEELHOUSE, as_user, explain, imports, new_venv, ok, uv,
)

SET = ["six", "idna", "attrs", "packaging"]
MODULES = ["six", "idna", "attrs", "packaging"]

PYPROJECT = """[project]
name = "uvfleet-probe"
version = "1.0"
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"
"""


def test_alice_and_bob_have_the_umasks_of_the_story(host):
    assert ok(as_user(host, "alice", "umask")).stdout.strip() == "0077"
    assert ok(as_user(host, "bob", "umask")).stdout.strip() == "0022"


def test_what_root_had_cached_before_the_role_is_all_still_there(host):
    before = host.file("/root/prefill-cache.list").content_string.split()
    now = set(ok(host.run("find %s -mindepth 1 -printf '%%P\\n'", CACHE)).stdout.split())
    missing = [entry for entry in before if entry not in now]
    assert before and not missing, missing[:20]


def test_what_root_had_cached_before_the_role_serves_alice_and_bob_offline(host):
    for user in ("alice", "bob"):
        new_venv(host, user, "prefilled")
        ok(uv(host, user, "pip install --offline -p ~/prefilled six iniconfig"))
        imports(host, user, "prefilled", ["six", "iniconfig"])


def test_alice_installs_a_set_of_packages(host):
    new_venv(host, "alice", "app")
    ok(uv(host, "alice", "pip install -p ~/app " + " ".join(SET)))
    imports(host, "alice", "app", MODULES)


def test_what_alice_cached_is_open_to_the_group_despite_her_umask(host):
    # Files alice's uv wrote into the cache: group rw (and not hers alone).
    private = host.run("find %s -user alice -type f ! -name '*.lock' ! -perm -g+r", CACHE).stdout
    assert private == ""
    assert host.run("find %s -user alice ! -group %s", CACHE, GROUP).stdout == ""


def test_the_caches_sdists_git_marker_is_group_writable(host):
    # uv opens sdists-vN/.git for writing on every cache init (DESIGN.md, section 2).
    markers = ok(host.run("find %s -maxdepth 2 -path '*/sdists-v*/.git' -perm -g+rw", CACHE)).stdout.split()
    assert markers, "no group-writable sdists-v*/.git in %s" % CACHE


def test_bob_gets_the_same_set_from_the_cache_offline(host):
    new_venv(host, "bob", "app")
    ok(uv(host, "bob", "pip install --offline -p ~/app " + " ".join(SET)))
    imports(host, "bob", "app", MODULES)


def test_the_venv_files_are_not_the_cache_inodes(host, expect):
    # copy or clone: a member's venv is theirs alone (one link, owned by them).
    stat = ok(as_user(host, "bob", "stat -c '%h %U' ~/app/lib/python3*/site-packages/six.py")).stdout.split()
    assert stat == ["1", "bob"], stat


def test_bob_cleans_entries_that_alice_created(host):
    result = ok(uv(host, "bob", "cache clean attrs"))
    assert "Removed" in result.stderr, explain(result)
    assert "ermission denied" not in result.stderr
    assert host.run("find %s -path '*/pypi/attrs*' ! -name '*.lock'", CACHE).stdout == ""
    gone = uv(host, "bob", "pip install --offline -p ~/app --reinstall attrs")
    assert gone.rc != 0, explain(gone)


def test_a_package_alice_builds_from_a_local_sdist_is_reused_by_bob(host):
    ok(host.run("install -d -o root -g %s -m 2770 %s", GROUP, WHEELHOUSE))
    ok(as_user(host, "alice", "mkdir -p ~/src/probe/src/uvfleet_probe ~/dist"))
    ok(as_user(host, "alice", "cat > ~/src/probe/pyproject.toml <<'EOF'\n%sEOF" % PYPROJECT))
    ok(as_user(host, "alice", "echo 'ANSWER = 42' > ~/src/probe/src/uvfleet_probe/__init__.py"))
    ok(as_user(host, "alice", "cd ~/src/probe && uv build -q --sdist -o ~/dist"))
    ok(as_user(host, "alice", "install -m 0640 ~/dist/uvfleet_probe-1.0.tar.gz %s/" % WHEELHOUSE))
    ok(uv(host, "alice", "cache clean uvfleet-probe"))  # a rerun starts cold too
    built = ok(uv(host, "alice", "pip install -p ~/app --find-links %s uvfleet-probe" % WHEELHOUSE))
    assert "Built uvfleet-probe" in built.stderr, explain(built)
    reused = ok(uv(host, "bob", "pip install --offline -p ~/app --find-links %s uvfleet-probe" % WHEELHOUSE))
    assert "Built" not in reused.stderr, explain(reused)
    assert ok(as_user(host, "bob", "~/app/bin/python -c 'import uvfleet_probe; print(uvfleet_probe.ANSWER)'")).stdout.strip() == "42"
