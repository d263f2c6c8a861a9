"""Tenants: one 学校設置者 (board of education) each; every other row belongs to one."""
