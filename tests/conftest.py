"""Test-wide settings: one torch thread (small tensors; avoids oversubscribing a 2-core CI box)."""
import torch

torch.set_num_threads(1)
