"""Data MammoDesk ships: the built-in model package and the de-identification
rule table.  Installed with MammoDesk as package data and read through
importlib.resources (engine/resources.py); no code lives here."""
