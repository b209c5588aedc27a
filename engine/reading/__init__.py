"""The reading use cases, headless: open a study, save a draft, sign, add an
addendum.  The window and the command line call these same functions."""
