"""Models of the threads area."""
