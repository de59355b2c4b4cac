"""The alumni directory: /people, the profile fields alumni care about, and who sees each.

Who sees a field is decided in one place, community/policy.py ("Directory"):
`field_visible(field, viewer_id)` is a SQL clause used by the listing (to show
a field), by the search (to match on it) and by the profile page, so a search
can never find someone by a field the searcher may not see.

Audiences (users.<field>_visibility, accounts/models.VISIBILITIES):
- "circles" (the default): people who share a circle with the owner — an active
  member of a circle whose content the viewer may read (policy.circle_mate_ids,
  the same rule access_profile always had);
- "alumni": every alumnus of this site — a signed-in, unsuspended account with
  an active membership of at least one circle (policy.is_alumnus);
- "nobody": no one but the owner, not even circle-mates.

Fields with an audience of their own (accounts/models.PROFILE_FIELDS):
organisation, job title, sector, place (users.location), bio, "can help with"
tags, photo, and the "open to being contacted" flag. Name and @handle are shown
to whoever may see the person at all; nothing else is. A person always sees all
of their own.

Listed in /people: alumni who opted in (users.listed_in_directory, off by
default). A listed person's profile page is open to any alumnus; an unlisted
person's stays open to their circle-mates only. Someone in no circle sees an
empty directory; signed-out visitors are sent to sign in.

Search (queries.find): each word of the text must be in the name, or in the
organisation, job title, place or a tag *that the viewer may see*; the sector,
place and tag filters likewise. The bio is not searched. LIKE wildcards typed
are literal. One statement per search shape, built once with parameters.

A circle's own pages (members, home, attendees, requests to join, people to
message) show circle-mates every field but those shown to "nobody"
(policy.shown_to_circle), and the members page's search obeys field_visible.

Introductions (actions.ask_introduction...): from the profile of a listed
person one shares no circle with, who shows one (field_visible "contact") that
they are open to being contacted. Accepted, a direct conversation opens: an
accepted introduction lets the two message each other (policy.introduced, in
may_message beside shares_a_circle). Declined silently: the asker's side reads
"sent". Five a day; asked once per person. The recipient is notified (kind
"introduction"); its email carries the words only if they turned on
users.introduction_excerpts (settings, profile).

Programmes: a person's programmes and cohorts are those of the cohort circles
(programmes.ProgrammeCohort) they are an active member of. They are shown, and
searched by (?programme=<name>&cohort=<year>), only to alumni of the same
programme (policy.on_programme, shared_cohorts): a fellow alumnus finds "who in
our alumni..."; anyone else learns nothing of who was on which programme.
"""
