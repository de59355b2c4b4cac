"""The admin area: models, actions, forms, views."""
