"""The chat area: live chat per circle over Socket.IO."""
