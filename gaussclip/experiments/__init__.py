"""End-to-end experiments of Section 6 (Gaussian process, MNIST, Lagrangian flow)."""
