"""Imaging building blocks shared by the viewer, the AI and de-identification:
breast segmentation, the chest-wall side and the greyscale pipeline."""
