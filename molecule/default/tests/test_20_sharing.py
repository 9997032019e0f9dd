"""The sharing part of the story (molecule/_shared/story_sharing.py)."""
from story_sharing import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
