"""MammoDesk: the reading workstation, or a headless command (ui/cli)."""

import sys

from ui.cli import main

if __name__ == "__main__":
    sys.exit(main())
