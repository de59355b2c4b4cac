"""Things that happened, for other areas to react to, sent after the commit.

Actions send these so that, say, chat can cut off a removed member's sockets
without the circles area knowing chat exists.
"""
from blinker import Namespace

_signals = Namespace()

# sender: the Circle; kwargs: user_id, reason ("left" | "removed" | "banned"), and
# message: what a removed or banned person is told (with the moderator's reason)
membership_ended = _signals.signal("membership-ended")
# sender: the Circle, whose members must accept its pledge (again) before reading on
pledge_changed = _signals.signal("pledge-changed")
# sender: the Circle, which now requires two-factor sign-in: members without a
# second factor stop reading it until they set one up
second_factor_required = _signals.signal("second-factor-required")
# sender: the User who no longer has a second factor (a site admin reset it, or
# they removed their last one): circles that require one are closed to them
second_factor_removed = _signals.signal("second-factor-removed")
# sender: the User whose sessions were all ended (password change, suspension...)
sessions_ended = _signals.signal("sessions-ended")
# sender: the User who signed out of one browser; kwargs: session_id (that browser's
# sign-in id, see accounts/sessions.py). Only that browser's live connections end.
browser_signed_out = _signals.signal("browser-signed-out")
