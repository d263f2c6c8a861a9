"""The roster: OneRoster 1.2 (Japan Profile) orgs, sessions, courses, classes, users, roles, enrollments."""
