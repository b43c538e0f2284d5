"""The torch half of the core: building networks from specs, and reading and writing model files.

Modules here import torch at module level; the CLI imports them only inside a command's body, and only
commands that need weights do (`cnn summary` on a model file reads its header without them).
"""
