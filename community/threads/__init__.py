"""The threads area: discussion threads and posts."""
