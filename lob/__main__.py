"""``python -m lob``: the ``lob`` command line."""

import sys

from lob.cli import main

if __name__ == "__main__":
    sys.exit(main())
