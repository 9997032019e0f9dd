"""Two nodes, one shared file system: one cache for the group across the cluster."""
import uvfleet_story as story
from uvfleet_story import GID, GROUP, as_user, explain, imports, new_venv, ok, tree_state, uv

CACHE = "/shared/uv/cache"
SHARED = ["/shared/uv/cache", "/shared/uv/python", "/shared/uv/bin", "/shared/uv/tools"]
SET = ["six", "idna", "attrs", "packaging"]


def test_the_group_has_the_same_gid_on_every_node(host):
    assert host.group(GROUP).gid == GID
    assert GROUP in host.user("alice").groups and GROUP in host.user("bob").groups


def test_every_node_has_the_same_uv_toml_and_wrappers(host):
    toml = host.file("/etc/uv/uv.toml").content_string
    assert 'cache-dir = "%s"' % CACHE in toml
    assert ok(as_user(host, "bob", "uv python dir")).stdout.strip() == "/shared/uv/python"
    assert ok(as_user(host, "bob", "uv tool dir --bin")).stdout.strip() == "/shared/uv/bin"


def test_the_shared_directories_are_the_groups_on_both_nodes(host):
    for path in SHARED:
        d = host.file(path)
        assert (d.user, d.group, d.mode) == ("root", GROUP, 0o2770), path


def test_alice_on_node1_fills_the_cache_and_bob_on_node2_uses_it_offline(node1, node2):
    new_venv(node1, "alice", "app")
    ok(uv(node1, "alice", "pip install -p ~/app " + " ".join(SET)))
    imports(node1, "alice", "app", SET)
    new_venv(node2, "bob", "app")
    ok(uv(node2, "bob", "pip install --offline -p ~/app " + " ".join(SET)))
    imports(node2, "bob", "app", SET)


def test_a_python_alice_installs_on_node1_serves_bob_on_node2(node1, node2):
    version = story.python_version(node1)
    ok(uv(node1, "alice", "python install --reinstall %s" % version))
    ok(uv(node2, "bob", "venv -q --clear --managed-python -p %s ~/managed" % version))
    prefix = ok(as_user(node2, "bob", "~/managed/bin/python -c 'import sys; print(sys.base_prefix)'")).stdout
    assert prefix.startswith("/shared/uv/python"), prefix


def test_bob_on_node2_cleans_what_alice_cached_on_node1(node1, node2):
    ok(uv(node2, "bob", "cache clean idna"))
    again = uv(node1, "alice", "pip install --offline -p ~/app --reinstall idna")
    assert again.rc != 0, explain(again)
    ok(uv(node1, "alice", "pip install -p ~/app idna"))


def test_no_module_touched_the_shared_file_system_from_node2(node1, node2):
    # Every Ansible module logs its invocation to the node's journal.
    def invocations(node):
        return ok(node.run("journalctl --no-pager -o cat | grep 'Invoked with' | grep -c /shared/ || true")).stdout
    assert int(invocations(node1)) > 0
    assert int(invocations(node2)) == 0


def test_carol_gets_nothing_on_either_node(node1, node2):
    before = tree_state(node1, CACHE)
    for node in (node1, node2):
        listing = as_user(node, "carol", "ls %s" % CACHE)
        assert listing.rc != 0 and "Permission denied" in listing.stderr, explain(listing)
        result = uv(node, "carol", "pip install --system six")
        assert result.rc != 0 and "Permission denied" in result.stderr, explain(result)
    assert tree_state(node1, CACHE) == before


def test_the_cache_perms_audit_is_clean(ansible_host):
    if not ansible_host.backend.get_hostname().endswith("n1"):
        return  # the shared file system is audited once, from node1
    strict = story.audit(ansible_host, ["/shared/uv/cache", "/shared/uv/python"], acl="required")
    assert strict["remaining"] == {}, strict


def test_the_maintenance_job_is_scheduled_on_exactly_one_node(node1, node2):
    unit = "/etc/systemd/system/uvfleet-maintain.%s"
    assert [n.run("systemctl is-active uvfleet-maintain.timer").stdout.strip() for n in (node1, node2)] == \
        ["active", "inactive"]
    assert node1.file(unit % "service").exists and node1.file(unit % "timer").exists
    assert not node2.file(unit % "service").exists and not node2.file(unit % "timer").exists
    # it runs on node1 over the shared volume and reports there; node2 has nothing to report
    ok(node1.run("systemctl start uvfleet-maintain.service"))
    summary = ok(node1.run("journalctl -u uvfleet-maintain.service -o cat --no-pager | grep '^uvfleet maintain: ' | tail -n 1")).stdout
    assert summary.startswith("uvfleet maintain: ok") and "/shared/uv/cache" in summary, summary
    prom = "/var/lib/prometheus/node-exporter/uvfleet.prom"
    assert 'uvfleet_perms_repair_success{dir="/shared/uv/cache"} 1' in node1.file(prom).content_string
    assert not node2.file(prom).exists
    nothing = ok(node2.run("uvfleet maintain"))
    assert "nothing to do" in nothing.stdout
