"""HTTP routes of the threads area."""
from flask import Blueprint

bp = Blueprint("threads", __name__)
