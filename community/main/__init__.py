"""The main area: models, actions, forms, views."""
