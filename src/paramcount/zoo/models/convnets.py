"""Convolutional networks of torchvision."""
