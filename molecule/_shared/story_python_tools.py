"""Shared Pythons and tools: what one member installs, the others use and replace
(uv#8032: the first user's .lock and .temp must not lock the others out)."""
from uvfleet_story import BIN_DIR, PYTHON_DIR, TOOL_DIR, as_user, explain, ok, python_version, uv


def test_alice_installs_a_python_into_the_shared_python_dir(host):
    version = python_version(host)
    result = ok(uv(host, "alice", "python install --reinstall %s" % version))
    assert "Installed Python" in result.stderr, explain(result)
    listed = ok(uv(host, "bob", "python list --only-installed --managed-python")).stdout
    assert PYTHON_DIR in listed, listed


def test_bob_reinstalls_it_through_the_lock_and_temp_dir_alice_created(host):
    version = python_version(host)
    assert host.file(PYTHON_DIR + "/.lock").user == "alice"
    result = ok(uv(host, "bob", "python install --reinstall %s" % version))
    assert "Installed Python" in result.stderr, explain(result)


def test_bob_builds_a_venv_on_the_shared_python(host):
    version = python_version(host)
    ok(uv(host, "bob", "venv -q --clear --managed-python -p %s ~/managed" % version))
    prefix = ok(as_user(host, "bob", "~/managed/bin/python -c 'import sys, ssl; print(sys.base_prefix)'")).stdout
    assert prefix.startswith(PYTHON_DIR), prefix


def test_a_tool_alice_installs_runs_for_bob_and_bob_can_reinstall_it(host):
    ok(uv(host, "alice", "tool install wheel"))
    assert host.file(TOOL_DIR + "/wheel").is_directory
    assert host.file(BIN_DIR + "/wheel").is_symlink
    ok(as_user(host, "bob", "wheel version"))
    ok(uv(host, "bob", "tool install --reinstall wheel"))
    ok(as_user(host, "alice", "wheel version"))
