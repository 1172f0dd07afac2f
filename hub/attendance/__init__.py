"""Attendance logic free of storage and HTTP: who is who in a meeting's participant list, and
what a candidate's joining (or not) means against the event's deadlines."""
