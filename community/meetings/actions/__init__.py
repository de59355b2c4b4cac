"""What members do with meetings, one module per journey:

- scheduling: schedule, change, reschedule and cancel a meeting or one date of a series;
  delete a meeting
- rsvps: answer for a date; seats, the waitlist, and places given back on leaving
- polls: ask the circle when it can meet, answer, and turn the answer into a meeting
- visits: offer to host the circle at one's organisation
- feeds: the personal calendar feed's secret address
- notices: how meetings are named in what members are told

Locks: seats for a date are given under that date's row lock (FOR UPDATE on
PostgreSQL; begin_write's BEGIN IMMEDIATE on SQLite), so the last seat is never
given twice. Actions that change a meeting lock the meeting first and then its
dates in id order; an RSVP locks only its date. With one order everywhere, two
actions never wait on each other in a cycle.
"""
