"""The channels part of the story (molecule/_shared/story_channels.py)."""
from story_channels import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
