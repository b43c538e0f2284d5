"""cnn: train, evaluate, inspect and run convolutional neural networks for image classification."""

__version__ = "0.1.0"
