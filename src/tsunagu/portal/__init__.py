"""The portal's pages for people (learners, teachers, administrators)."""
