"""Forms for challenges (the composers on the thread page are plain forms with a CSRF slot)."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..forms import choices
from ..threads.actions import BODY_MAX, TITLE_MAX
from .actions import ASK_MAX, FOLLOW_UP_DAYS, UNITS

UNIT_CHOICES = choices((unit, unit) for unit in UNITS)
FOLLOW_UP_CHOICES = choices((str(days), f"{days // 7} weeks") for days in FOLLOW_UP_DAYS)


class ChallengeForm(FlaskForm):
    title = StringField("A short title", validators=[DataRequired("Give the challenge a title."),
                                                     Length(max=TITLE_MAX)])
    situation = TextAreaField("The situation", validators=[
        DataRequired("Describe the situation."), Length(max=BODY_MAX)],
        description="What is going on, who is involved, what you have tried. Only this circle sees it.")
    ask = TextAreaField("What you'd like help with", validators=[
        DataRequired("Say what you'd like help with."), Length(max=ASK_MAX)],
        description="The question you'd like the circle to work on with you.")
    questions_amount = IntegerField("Questions last", validators=[Optional(), NumberRange(1, 1440)],
                                    description="Leave empty to move on by hand.")
    questions_unit = SelectField("Unit for Questions", choices=UNIT_CHOICES, default="days")
    ideas_amount = IntegerField("Ideas last", validators=[Optional(), NumberRange(1, 1440)],
                                description="Leave empty to move on by hand.")
    ideas_unit = SelectField("Unit for Ideas", choices=UNIT_CHOICES, default="days")
    follow_up_days = SelectField("Ask me how it went after", choices=FOLLOW_UP_CHOICES, default="28",
                                 description="Counted from your reflection; and on each commitment's date.")
