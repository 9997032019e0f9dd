"""The outsider part of the story (molecule/_shared/story_outsider.py)."""
from story_outsider import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
