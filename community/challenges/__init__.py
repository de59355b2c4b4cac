"""Challenges: a peer consultation (action learning set) as a kind of thread.

Choices made (issue 25, points 1, 2, 3, 5):
- A challenge is a thread of kind "challenge" plus a `challenges` row with its
  own id (meetings can point at it); its posts are thread posts with a `kind`.
- Phases only move forward (phases.py). The presenter and owners/moderators
  move Questions and Ideas on; Reflection ends with the presenter's reflection.
- Timed phases: computed on read from the stored start and durations, stored
  on the next write by a conditional UPDATE; no job is needed.
- An idea typed during Questions is held privately and posted with one click
  once Ideas opens (not automatically: its author may think better of it
  after hearing the answers). Anonymised leaving deletes held ideas.
- A commitment's date means 9:00 in the presenter's zone; the general
  follow-up is 9:00 local on the day `follow_up_days` (28 by default) after
  the local day of reflection. Follow-ups go once (conditional UPDATE on
  sent_at), only to a presenter who may still read the circle.
- Notifications and emails about challenges carry no title or text. A move
  to Ideas tells the thread's followers and whoever kept an idea (not a muted
  thread); a move to Reflection tells the presenter. Whoever stores the move
  tells of it: the mover, the next write after a timed phase ended, or the
  minute loop (actions.settle_ended_phases), one of them (phases.settled).
- Files: every composer (situation, questions, answers, ideas, reflection,
  updates, comments) takes them through threads.actions._attach; a held idea
  keeps words only. A post refused for what it says comes back as its form.
- The circle's challenges page (listing.py): open, waiting for an update,
  closed (paged); two statements of its own.
- Meetings (point 4) are the agenda area's (community/agenda): a meeting
  date's run sheet moves a challenge on into Ideas and Reflection as the
  session reaches them (actions.advance_for_session).
"""
