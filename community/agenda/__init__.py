"""Agendas and run sheets: challenges taken to a meeting, and the session run live.

Choices made (issue 25, point 4):
- An agenda belongs to one date of a meeting (a MeetingOccurrence): each
  session of a series has challenges of its own. The meeting page shows the
  agenda of the date it shows.
- The run sheet is check-in, then for each challenge its Questions, Ideas and
  Reflection, then check-out; each part has its minutes (10 / 10+15+5 / 10 by
  default; check-in or check-out set to 0 is left out).
- Facilitators: the meeting's organiser, the member they hand the run sheet
  to, and the circle's owners and moderators (who can step in if the
  facilitator drops out). The same people edit the agenda; any member may put
  their own open challenge on it, or bring a new one from the meeting page,
  and take their own off again.
- The run sheet's clock is stored, not ticked: the step, when it started (UTC,
  shifted on by pauses), whether it is paused, and minutes added. Everyone's
  countdown is computed from that and the server's time, so a late joiner or a
  reconnect sees the right time. Every change raises `version`; a command
  names the version it was given for, so a double click or two facilitators
  at once apply it once.
- Stepping into a challenge's Ideas or Reflection moves the challenge there,
  if it is behind (challenges.actions.advance_for_session): forward only, so
  stepping back shows the Questions step again without reopening questions.
  The circle's challenge page thus takes ideas when the room reaches Ideas.
- Live: `join_run_sheet` / `step_run_sheet` on /chat, broadcast
  `run_sheet_changed` to a room per date (events.py). Agenda edits broadcast
  it too, so open pages fetch the new card.
"""
