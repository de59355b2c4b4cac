"""The moderation area: models, actions, forms, views."""
