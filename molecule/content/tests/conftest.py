"""Scenario `content`: the content check on a real shared cache."""

from uvfleet_fixtures import ansible_host, host  # pylint: disable=unused-import  # noqa: F401
