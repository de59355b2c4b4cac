"""The kinds of notification, what people see them as, and where they go by default.

Channels: "off" (nowhere), "in_app" (the bell only), "email" (the bell, and an
email at once), "digest" (the bell, and one calm email a day or a week, or
only the bell for someone who turned their digest off).
"""
CHANNELS = {
    "email": "Email at once",
    "digest": "In the digest",
    "in_app": "Only here",
    "off": "Off",
}

# kind -> (label in settings, default channel). Mentions, direct messages, changes to meetings
# you are going to and the answer to your own request come at once; the rest
# waits for the digest.
KINDS = {
    "mention": ("Someone mentions you", "email"),
    # Emailed a few minutes after the first unread one (DM_EMAIL_DELAY), once for a
    # burst, and never with what was written unless one asks (messages/notify.py).
    "direct_message": ("Direct messages", "email"),
    "reply": ("Replies in threads you follow", "digest"),
    "new_thread": ("New threads in your circles", "digest"),
    "new_challenge": ("Someone brings a challenge to your circle", "digest"),
    # Ideas opening (to a challenge's followers), and the presenter's turn to reflect.
    "challenge_phase": ("A challenge you follow moves on to its next phase", "digest"),
    "challenge_follow_up": ("“How did it go?” after your own challenge", "email"),
    "challenge_update": ("A presenter's update on their challenge", "digest"),
    "meeting_created": ("New meetings in your circles", "digest"),
    "meeting_changed": ("Changes to meetings you're going to", "email"),
    "meeting_cancelled": ("Cancelled meetings you were going to", "email"),
    "meeting_reminder": ("Reminders the day before a meeting", "email"),
    "waitlist_promoted": ("You got a place from the waiting list", "email"),
    "visit_planned": ("A visit you offered to host is planned", "email"),
    "poll_created": ("New date polls", "digest"),
    "poll_closed": ("A date poll you answered is decided", "digest"),
    "join_request": ("Someone asks to join a circle you moderate", "digest"),
    "request_approved": ("Your request to join is approved", "email"),
    "request_declined": ("Your request to join is declined", "email"),
    "membership_ended": ("You are removed from a circle", "email"),
    "invitation_accepted": ("Someone joins with your invite link", "digest"),
    "report_filed": ("Something is reported in a circle you moderate", "email"),
    "report_outcome": ("The outcome of your report", "digest"),
    "introduction": ("Someone asks to be introduced to you", "email"),
    "introduction_accepted": ("Your request for an introduction is accepted", "email"),
}
DEFAULT_CHANNEL = "digest"

# Kinds only a circle's owners and moderators receive: not offered to anyone else.
STAFF_KINDS = frozenset({"join_request", "report_filed"})

# The plain choices on the settings page, each a channel for every kind
# ("Customise" shows the grid behind them).
PRESETS = {
    "everything_email": "Everything by email",
    "important_email": "Important by email, the rest in a digest",
    "in_app": "Only in the app",
}


def preset_channels(preset: str) -> dict[str, str]:
    """{kind: channel} for one of PRESETS."""
    if preset == "everything_email":
        return {kind: "email" for kind in KINDS}
    if preset == "in_app":
        return {kind: "in_app" for kind in KINDS}
    return {kind: default for kind, (_, default) in KINDS.items()}  # the defaults are this one


# How often the digest goes: daily, weekly (on Mondays) or not at all (its kinds
# then stay in the app).
DIGEST_FREQUENCIES = {
    "daily": "Every day",
    "weekly": "Once a week, on Mondays",
    "off": "Never (digest items stay in the app)",
}


def default_channel(kind: str) -> str:
    return KINDS.get(kind, ("", DEFAULT_CHANNEL))[1]


def label(kind: str) -> str:
    return KINDS.get(kind, (kind.replace("_", " ").capitalize(), ""))[0]
