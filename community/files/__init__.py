"""Files shared in circles: kinds, safety and storage."""
