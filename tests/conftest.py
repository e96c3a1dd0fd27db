"""Shared test settings: one torch thread per test process (the CI machine has 2 cores)."""

import matplotlib
import torch

matplotlib.use("Agg")
torch.set_num_threads(1)
