"""The core: pure functions over dataclasses. It never prints; progress goes through callbacks.

Modules directly in this package import no torch, torchvision, PIL or numpy (the CLI imports them at
start-up). The heavy parts live in sub-packages (nn, data, training, inference) that the CLI imports
only inside a command's body.
"""
