"""Direct messages: conversations of 2 to 9 people who share a circle.

Messages live in their own table, direct_messages, shaped like chat_messages
(seq per conversation without gaps, client_id de-duplication, Markdown source
and cached safe HTML, soft deletion), and are stored and read by the same code
as circle chat: community/chat/store.py takes the model and the column that
scopes a message (circle or conversation), so checking, de-duplication,
numbering, the rate limit, pages and catch-up "after seq n" are written once.

Why not chat_messages with a nullable circle_id and a conversation_id? Making
circle_id nullable and adding a CHECK needs SQLite's batch copy of a table
that files, reports and read positions point at (a copy that once dropped
every membership), and every query in chat that filters on circle_id would
have to be re-read for what NULL now means (unread counts, mentions, reports,
the file library, the search index, the data export). A separate table with
the same columns keeps circle chat's queries, indexes and confidentiality
exactly as they are, and the shared functions carry the behaviour across.
"""
