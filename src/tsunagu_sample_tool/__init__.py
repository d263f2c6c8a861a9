"""A small LTI 1.3 tool for the demo and the interoperability tests: 計算ドリル.

It is deliberately *not* part of the platform: it imports nothing from ``tsunagu`` and is built
on an independent tool library, PyLTI1p3 (the maintained ``pylti1p3next`` fork), with Flask. It
supports resource-link launches to one unit, Deep Linking to pick units, NRPS (the class list),
AGS (scores back to the portal, results read back) and writes xAPI statements to an LRS.
"""
