"""Forms for accounts and settings."""
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length

from ..forms import choices
from ..timeutil import DEFAULT_TIMEZONE, timezone_names
from .actions import MIN_PASSWORD_LENGTH
from .models import PROFILE_FIELDS, SECTORS, VISIBILITIES

PASSWORD_RULE = Length(min=MIN_PASSWORD_LENGTH, max=1000,
                       message=f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")


def _timezone_choices():
    """Every IANA zone, grouped by region ("Europe", "America"...)."""
    return choices(((z, z.replace("_", " ")) for z in timezone_names()),
                   optgroup=lambda z: z.split("/")[0])


class ProfileFields:
    """The profile fields, shared by registration and settings."""

    display_name = StringField("Name people will see", validators=[DataRequired(), Length(max=80)])
    organisation = StringField("Organisation", validators=[Length(max=120)])
    job_title = StringField("Job title", validators=[Length(max=120)])
    sector = SelectField("Sector", choices=choices(SECTORS.items()), default="public")
    location = StringField("Location", validators=[Length(max=120)])
    timezone = SelectField("Timezone", choices=_timezone_choices, default=DEFAULT_TIMEZONE)

    def profile_data(self) -> dict:
        return {name: getattr(self, name).data for name in
                ("display_name", "organisation", "job_title", "sector", "location", "timezone")}


class RegisterForm(ProfileFields, FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), PASSWORD_RULE],
        description=f"At least {MIN_PASSWORD_LENGTH} characters.",
    )


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])
    remember = BooleanField("Keep me signed in on this device")


class ProfileForm(ProfileFields, FlaskForm):
    clock = SelectField("Clock", choices=choices([("24", "24-hour (14:05)"), ("12", "12-hour (2:05 pm)")]),
                        default="24")
    bio = TextAreaField("About you", validators=[Length(max=2000)])
    # The directory's part (community/directory/actions.py checks it).
    tags = TextAreaField("Can help with", validators=[Length(max=2000)],
                         description="Up to 10 things, separated by commas, e.g. "
                                     "“board recruitment, budgets, children's services”.")
    open_to_contact = BooleanField("I'm open to being contacted by alumni",
                                   description="Alumni you share no circle with may then ask to be "
                                               "introduced to you.")
    introduction_excerpts = BooleanField("Put the words of a request for an introduction in its email",
                                         description="Off: the email only says someone asked.")
    listed_in_directory = BooleanField("List me in the alumni directory",
                                       description="Off until you turn it on. Alumni then find your name, "
                                                   "and each detail below as you choose.")

    def profile_data(self) -> dict:
        return {**super().profile_data(), "clock": self.clock.data, "bio": self.bio.data,
                "tags": self.tags.data, "open_to_contact": self.open_to_contact.data,
                "introduction_excerpts": self.introduction_excerpts.data,
                "listed_in_directory": self.listed_in_directory.data,
                "visibility": {field: getattr(self, f"{field}_visibility").data for field in PROFILE_FIELDS}}

    def visibility_fields(self) -> list:
        return [getattr(self, f"{field}_visibility") for field in PROFILE_FIELDS]


# "Who sees it": a select per profile field, named <field>_visibility like its column.
for _field, _label in PROFILE_FIELDS.items():
    setattr(ProfileForm, f"{_field}_visibility",
            SelectField(_label, choices=choices(VISIBILITIES.items()), default="circles"))




class PasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), PASSWORD_RULE],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. Other devices will be signed out.",
    )


class ResetRequestForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(
        "New password", validators=[DataRequired(), PASSWORD_RULE],
        description=f"At least {MIN_PASSWORD_LENGTH} characters. Other devices will be signed out.")


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1000)],
                             description="To be sure it is you.")


class SecondStepForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=64)],
                       description="The 6-digit code your authenticator app shows now, "
                                   "or one of your recovery codes.")
    remember_browser = BooleanField("Don't ask for a code on this browser for 30 days")


class TotpConfirmForm(FlaskForm):
    code = StringField("Code from the app", validators=[DataRequired(), Length(max=64)],
                       description="The 6 digits it shows now.")
    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1000)],
                             description="To be sure it is you.")


class ConfirmPasswordForm(FlaskForm):
    """A change to one's factors: the password again, so an open session isn't enough."""

    password = PasswordField("Your password", validators=[DataRequired(), Length(max=1000)])
