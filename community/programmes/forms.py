"""Forms of the programme pages and of bulk invitations."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import EmailField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import NumberRange, Optional

from ..circles.forms import CircleForm
from ..forms import choices
from ..moderation.actions import DEFAULT_INVITE_DAYS
from .people_list import MAX_PEOPLE

# Years are checked by the actions (programmes.actions._year), which say what is wrong.
YEAR = {"inputmode": "numeric", "autocomplete": "off"}


class ProgrammeForm(FlaskForm):
    name = StringField("Name", description="e.g. “Berkshire Leadership Programme”.")
    place = StringField("Place (optional)", description="Where it runs, e.g. “Reading”.")
    start_year = StringField("First year", render_kw=YEAR)
    end_year = StringField("Last year (optional)", render_kw=YEAR,
                           description="Leave empty while it still runs.")


class CohortForm(CircleForm):
    year = StringField("Cohort year", render_kw=YEAR)


class BulkInviteForm(FlaskForm):
    lines = TextAreaField("Paste the people", render_kw={"rows": 8, "spellcheck": "false"},
                          description="One person a line: name, email, organisation "
                                      "(organisation may be left out). Or “Name <email>”.")
    csv_file = FileField("…or choose a CSV file",
                         description=f"Columns name, email, organisation; up to {MAX_PEOPLE} "
                                     "people.", render_kw={"accept": ".csv,text/csv"})
    days = IntegerField("Each invitation is valid for (days)", default=DEFAULT_INVITE_DAYS,
                        validators=[NumberRange(1, 90, "Choose from 1 to 90 days.")])


class ProgrammeStaffForm(FlaskForm):
    email = EmailField("Their account's email", validators=[Optional()])
    programme = SelectField("Staff of the programme (optional)", choices=choices([("", "None yet")]),
                            validate_choice=False)
