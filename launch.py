"""Open the svdapp web app: ``python launch.py [--share] [--host] [--port] [--auth user:pass]``."""

import sys

from svdapp.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
