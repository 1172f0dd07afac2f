"""Scheduling requests: interview times offered to candidates, held on the interviewers'
calendars, and booked, declined, rescheduled or cancelled by each candidate."""
