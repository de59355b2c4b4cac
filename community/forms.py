"""Form helpers shared by every area."""
import wtforms
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from .errors import ActionError


def choices(pairs, optgroup=None) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(value, label, optgroup=optgroup(value) if optgroup else None)
            for value, label in pairs]


def apply_error(form: FlaskForm, err: ActionError) -> None:
    """Show an action's error beside its field, or above the form (also when the
    field is hidden: nobody would see an error beside it)."""
    field = getattr(form, err.field, None) if err.field else None
    if field is not None and getattr(field.widget, "input_type", None) != "hidden":
        field.errors = [*field.errors, err.message]
    else:
        form.form_errors.append(err.message)


class FieldList(wtforms.FieldList):
    """WTForms' FieldList, reading only entries numbered in a few ASCII digits.

    WTForms takes any key whose suffix passes str.isdigit() and calls int() on
    it: "options-²" (a digit, but not to int()) or a 5,000-digit number raised
    ValueError, a 500. Such keys are now ignored like any other stray field.
    """

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                index = key[offset:].split(self._field_separator, 1)[0]
                if index.isascii() and index.isdigit() and len(index) <= 4:
                    yield int(index)
