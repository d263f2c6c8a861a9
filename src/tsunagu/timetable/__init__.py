"""Class timetables (時間割) with the materials placed on each period, and notices (お知らせ)."""
