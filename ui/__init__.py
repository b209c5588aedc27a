"""PySide6 widgets of the reading workstation.  The only package that imports Qt."""
