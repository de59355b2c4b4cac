"""The meetings area: scheduling, RSVPs, recurrence, date polls, calendars."""
