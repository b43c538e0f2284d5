"""What training and inference both stand on: the device and its threads, normalisation, batch sources.

Modules here import torch at module level; `training` and `inference` import them, never each other.
"""
