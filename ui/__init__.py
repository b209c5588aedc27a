"""The ways a person drives MammoDesk: the PySide6 window (widgets, the
operations layer) and the command line (ui/cli, which imports Qt only for
the commands that open a window or render one).  The only package that
imports Qt."""
