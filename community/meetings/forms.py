"""Forms for meetings, date polls, visits and the calendar feed.

Fields are plain text inputs with the right HTML types; the actions check the
values and word the errors, so a form never says "Not a valid choice".
"""
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.widgets import DateInput, DateTimeLocalInput, NumberInput, URLInput

from ..accounts.forms import _timezone_choices
from ..forms import FieldList, choices

REPEAT_CHOICES = [("none", "Does not repeat"), ("weekly", "Weekly, or every few weeks"),
                  ("monthly", "Monthly, on the same weekday (e.g. the first Tuesday)")]
MONTH_WEEK_CHOICES = [("", "The same week as the first date"), ("1", "First"), ("2", "Second"),
                      ("3", "Third"), ("4", "Fourth"), ("-1", "Last")]
DURATION_HINT = "In minutes, e.g. 90."


def _select(label, options, **kwargs):
    return SelectField(label, choices=options, validate_choice=False, **kwargs)


class PlaceFields:
    """What, where, how many and who hosts: shared by meetings and polls."""

    title = StringField("Title", description="e.g. “Monthly meetup” or “Visit to HMP Thameside”.")
    description = TextAreaField(
        "What it's about", description="Markdown works: **bold**, lists, links. Only members see it.")
    location = StringField("Venue", description="An address or the name of a building. Give a "
                                                "venue, an online link, or both.")
    online_link = StringField("Online link", widget=URLInput(),
                              description="A video-call address starting with https://.")
    capacity = StringField("Places available", widget=NumberInput(min=1),
                           description="Leave empty for no limit. Past it, people join a "
                                       "waitlist in order.")
    host_user_id = _select("Hosted by", [])
    host_organisation = StringField("Host organisation",
                                    description="Where the visit is; the host's organisation "
                                                "if left empty.")

    def set_hosts(self, members) -> None:
        self.host_user_id.choices = choices(
            [("", "No host — not a visit")]
            + [(str(m.id), f"{m.display_name} ({m.organisation})" if m.organisation
                else m.display_name) for m in members])


class MeetingForm(PlaceFields, FlaskForm):
    start = StringField("Starts", widget=DateTimeLocalInput(),
                        description="In the timezone below.")
    duration = StringField("How long it lasts", widget=NumberInput(min=5), default="120",
                           description=DURATION_HINT)
    end = StringField("Or when it ends", widget=DateTimeLocalInput(),
                      description="If you give an end, it is used instead of the length.")
    timezone = _select("Timezone", _timezone_choices)
    repeat = _select("Repeats", choices(REPEAT_CHOICES), default="none")
    interval = StringField("Every how many weeks or months", widget=NumberInput(min=1),
                           default="1")
    month_week = _select("Week of the month (monthly)", choices(MONTH_WEEK_CHOICES))
    count = StringField("Number of dates", widget=NumberInput(min=2),
                        description="Up to 104. Or give a last date instead.")
    until = StringField("Last date", widget=DateInput())
    host_offer_id = HiddenField()

    FIELDS = ("title", "description", "start", "end", "duration", "timezone", "location",
              "online_link", "capacity", "repeat", "interval", "month_week", "count", "until",
              "host_user_id", "host_organisation", "host_offer_id")

    def data_for_action(self) -> dict:
        return {name: self[name].data for name in self.FIELDS}


class MoveForm(FlaskForm):
    start = StringField("New start", widget=DateTimeLocalInput())
    duration = StringField("How long it lasts", widget=NumberInput(min=5),
                           description=DURATION_HINT)
    end = StringField("Or when it ends", widget=DateTimeLocalInput(),
                      description="If you give an end, it is used instead of the length.")


class CancelForm(FlaskForm):
    reason = TextAreaField("Reason", description="Everyone who said they're coming is told.")


class PollForm(PlaceFields, FlaskForm):
    timezone = _select("Timezone", _timezone_choices)
    duration = StringField("How long it lasts", widget=NumberInput(min=5), default="120",
                           description="In minutes.")
    options = FieldList(StringField("Time", widget=DateTimeLocalInput()), min_entries=10,
                        max_entries=10)

    FIELDS = ("title", "description", "timezone", "duration", "location", "online_link",
              "capacity", "host_user_id", "host_organisation")

    def data_for_action(self) -> dict:
        return {**{name: self[name].data for name in self.FIELDS},
                "options": [entry.data for entry in self.options]}


class HostOfferForm(FlaskForm):
    organisation = StringField("Organisation")
    note = TextAreaField("A note for the circle",
                         description="What a visit could show, what days suit. Plain text.")
    places = StringField("Places available", widget=NumberInput(min=1),
                         description="How many people you could welcome. Leave empty if "
                                     "you're not sure.")


class ConfirmForm(FlaskForm):
    """A form with no fields: CSRF protection for one-button actions."""
