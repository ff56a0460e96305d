"""Training (PyTorch). Imported only by `digits train`; recognition never needs torch."""
