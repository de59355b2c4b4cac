"""Form helpers shared by every area."""
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from .errors import ActionError


def choices(pairs, optgroup=None) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label, optgroup=optgroup(value) if optgroup else None)
            for value, label in pairs]


def apply_error(form: FlaskForm, err: ActionError) -> None:
    """Show an action's error beside its field, or above the form."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None:
        field.errors = [*field.errors, err.message]
    else:
        form.form_errors.append(err.message)
