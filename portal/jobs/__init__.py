"""The worker and what it runs: the email outbox, the anonymizer, and the column privacy registry it erases by."""
