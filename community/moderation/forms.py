"""Forms for managing a circle."""
from flask_wtf import FlaskForm
from wtforms import EmailField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional

from ..forms import choices
from .actions import DEFAULT_INVITE_DAYS


class InvitationForm(FlaskForm):
    days = IntegerField("Valid for (days)", default=DEFAULT_INVITE_DAYS,
                        validators=[NumberRange(1, 90, "Choose from 1 to 90 days.")])
    max_uses = IntegerField("Maximum uses", validators=[
        Optional(), NumberRange(1, 500, "Allow from 1 to 500 uses, or leave it empty.")],
        description="Leave empty for no limit.")
    email = EmailField("Only for this email address (optional)", validators=[Optional()],
                       description="Anyone else who opens the link is turned away.")
    note = StringField("Note to yourself (optional)", description="e.g. “for the March cohort”.")


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=choices([("member", "Member"), ("moderator", "Moderator"),
                                                ("owner", "Owner")]))
