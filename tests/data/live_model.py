"""A user's own module for the command line's FILE.py:CLASS door (tests/test_readme_api.py's schema check):
one catalog layer and one tensor of its own, which keeps raw shapes."""

import torch
from torch import nn


class Scaled(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.gain = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result: torch.Tensor = self.linear(x) * self.gain
        return result
