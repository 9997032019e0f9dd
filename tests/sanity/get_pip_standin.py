"""Stand-in for the get-pip bootstrap script that ansible-test downloads.

ansible-test bootstraps pip in each of its virtual environments with a get-pip script
from a host that is not reachable from our build machines. It uses a cached copy at
~/.ansible/test/cache/get_pip_<version>.py when one exists; tests/sanity/run.sh puts
this file there. It does the same job with the standard library's ensurepip:

1. `python -m ensurepip --upgrade` in a child process: ensurepip sets
   PIP_CONFIG_FILE=/dev/null in its own process, which would hide the pip
   configuration (index and CA bundle) from the install below;
2. `python -m pip install ARGS`, minus the get-pip-only flags.
"""
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main():
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, "-m", "pip", "install"] + args)


if __name__ == "__main__":
    sys.exit(main())
