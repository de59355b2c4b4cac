"""HTTP routes of the chat area."""
from flask import Blueprint

bp = Blueprint("chat", __name__)
