"""OneRoster 1.2 CSV binding with the Japan Profile: layouts, reading, rules and writing."""
