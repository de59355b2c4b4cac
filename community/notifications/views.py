"""HTTP routes of the notifications area (the centre comes with its own issue)."""
from flask import Blueprint

bp = Blueprint("notifications", __name__)
