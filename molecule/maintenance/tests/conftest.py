"""Scenario `maintenance`: the scheduled job on one Debian 12 node with systemd."""

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: F401
