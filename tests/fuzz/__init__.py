"""Structure-aware fuzzing of the DICOM reader, the decoders and the de-identifier.

seeds.py builds real files, layout.py finds their elements, mutators.py (Hypothesis) changes
them, runner.py feeds them to worker.py in a separate process, campaign.py runs it for a fixed
time and keeps what it finds in crashers/.
"""
