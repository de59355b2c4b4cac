"""Forms for circles."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..forms import choices
from .models import JOIN_POLICIES


class CircleForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)],
                       description="e.g. “Berkshire Leaders 2025”.")
    cohort = StringField("Cohort", validators=[Length(max=80)],
                         description="The programme and year you share, e.g. “Berkshire 2025”.")
    description = TextAreaField("What this circle is for", validators=[Length(max=2000)])
    join_policy = RadioField("How people join", choices=choices(JOIN_POLICIES.items()),
                             default="invite_only")


class CircleSettingsForm(CircleForm):
    pledge_required = BooleanField("Members must accept a confidentiality pledge before they see anything")
    pledge_text = TextAreaField("The pledge", validators=[Length(max=4000)])
    require_two_factor = BooleanField(
        "Members must sign in with a second factor to see anything",
        description="An authenticator app or a passkey, as well as their password. Members "
                    "without one see only the circle's name and how to set one up.")
    audit_visible_to_members = BooleanField("Let every member read the audit log")
    email_excerpts = BooleanField("Let notification emails quote a few words of the post",
                                  description="Off by default: emails then say only what happened, "
                                              "with a link. Inboxes are less private than this circle.")


class JoinRequestForm(FlaskForm):
    message = TextAreaField("A note to the moderators (optional)", validators=[Length(max=500)],
                            description="Say who you are and how you know the group.")


LEAVE_CHOICES = {
    "keep": "Keep my posts and messages attributed to me",
    "anonymise": "Anonymise what I wrote here (shown as “Former member”)",
}


class LeaveForm(FlaskForm):
    content = RadioField("What you wrote in this circle", choices=choices(LEAVE_CHOICES.items()),
                         default="keep")
