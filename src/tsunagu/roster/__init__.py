"""The roster (名簿): OneRoster 1.2 Japan Profile orgs, classes, people and enrollments."""
