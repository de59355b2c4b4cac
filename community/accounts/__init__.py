"""The accounts area: models, actions, forms, views."""
