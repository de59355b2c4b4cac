"""The performance layer: prepared reads, kept fragments and pages, the session
cookie's memo. What each does and why: README.md beside this file."""
