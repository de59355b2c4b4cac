"""The circles area: models, actions, forms, views."""
