"""The doctor part of the story (molecule/_shared/story_doctor.py)."""
from story_doctor import *  # pylint: disable=wildcard-import,unused-wildcard-import  # noqa: F401,F403
