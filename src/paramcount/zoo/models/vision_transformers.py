"""Vision transformers of torchvision: ViT, Swin, and ConvNeXt."""
