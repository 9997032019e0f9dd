"""The end state of the `install` scenario, seen by the unprivileged user dana.

converge (and the end of side_effect) leaves the pinned uv from the release mirror.
"""

import os

import pytest
import testinfra.utils.ansible_runner

# The nodes come from Molecule's inventory; testinfra runs each command over the
# inventory's SSH connection (ControlMaster), not through an Ansible run per command.
_RUNNER = testinfra.utils.ansible_runner.AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
_NODES = _RUNNER.get_hosts("all")
_VARS = _RUNNER.get_variables(_NODES[0])
PINNED = _VARS["install_test_version"]
USER = _VARS["install_test_user"]

BIN_DIR = "/usr/local/bin"


@pytest.fixture
def pinned():
    return PINNED


@pytest.fixture
def user():
    return USER


def as_user(host, user, command):
    return host.run("runuser -l %s -c %s", user, command)


@pytest.mark.parametrize("name", ["uv", "uvx"])
def test_binary_is_a_regular_root_owned_file_with_mode_0755(host, name):
    binary = host.file(f"{BIN_DIR}/{name}")
    assert binary.is_file
    assert not binary.is_symlink
    assert binary.user == "root"
    assert binary.group == "root"
    assert binary.mode == 0o755


@pytest.mark.parametrize("name", ["uv", "uvx"])
def test_user_finds_binary_on_the_path_and_it_prints_the_pinned_version(host, user, pinned, name):
    found = as_user(host, user, f"command -v {name}")
    assert found.rc == 0, found.stderr
    assert found.stdout.strip() == f"{BIN_DIR}/{name}"
    version = as_user(host, user, f"{name} --version")
    assert version.rc == 0, version.stderr
    assert version.stdout.split()[:2] == [name, pinned]


@pytest.mark.parametrize("path", [f"{BIN_DIR}/uv", f"{BIN_DIR}/uvx", BIN_DIR])
def test_user_cannot_write_binary_or_bin_dir(host, user, path):
    assert as_user(host, user, f"test -w {path}").rc == 1


def test_user_cannot_replace_uv(host, user):
    attempt = as_user(host, user, f"cp /bin/true {BIN_DIR}/uv")
    assert attempt.rc != 0
    assert "Permission denied" in attempt.stderr
    assert host.file(f"{BIN_DIR}/uv").size > 1_000_000


def test_uv_works_for_the_user_in_the_users_own_home(host, user):
    # A venv would need Python's distutils on Debian 11: uv's own commands suffice.
    cache = as_user(host, user, "uv cache dir && uv tool dir")
    assert cache.rc == 0, cache.stderr
    assert cache.stdout.split() == [f"/home/{user}/.cache/uv", f"/home/{user}/.local/share/uv/tools"]


@pytest.mark.parametrize("path", ["/opt/uvfleet", "/var/cache/uvfleet-install"])
def test_release_install_leaves_no_venv_and_no_staging_dir(host, path):
    assert not host.file(path).exists
