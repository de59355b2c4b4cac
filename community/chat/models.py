"""Models of the chat area."""
