"""Forms of the admin pages."""
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import Length

from ..accounts.factor_reset import REASON_MAX


class ResetSecondFactorForm(FlaskForm):
    # The action says what is missing or wrong (accounts/factor_reset.clean_reason).
    reason = TextAreaField("Why you are resetting it", validators=[Length(max=REASON_MAX)],
                           description="Recorded in the security log with your name, and "
                                       "sent to the person by email.")
