"""Display maths of the reading workstation (no Qt): the greyscale pipeline
as lookup tables and the mammography hanging protocol."""
