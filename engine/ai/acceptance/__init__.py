"""Running a candidate model in shadow before it may go live (see run.py)."""
