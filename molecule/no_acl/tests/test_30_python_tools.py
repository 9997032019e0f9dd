"""The python_tools part of the story (molecule/_shared/story_python_tools.py)."""
from story_python_tools import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
