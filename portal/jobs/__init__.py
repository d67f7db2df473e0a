"""The worker and what it runs: the email outbox, the anonymizer, and the column privacy registry it erases by."""

import threading

# Set by the worker on SIGTERM/SIGINT: jobs finish the item (or batch) in hand and return, so a stop never waits for a
# whole backlog (systemd's stop timeout is 90 s).
STOPPING = threading.Event()
