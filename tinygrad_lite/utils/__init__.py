"""Utilities with torch.utils' names: `data` (Dataset, DataLoader, samplers, random_split)."""
from . import data  # noqa: F401
