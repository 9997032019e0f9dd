"""The setup part of the story (molecule/_shared/story_setup.py)."""
from story_setup import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
