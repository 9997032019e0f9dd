"""The concurrency part of the story (molecule/_shared/story_concurrency.py)."""
from story_concurrency import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
