"""The xAPI Learning Record Store (xAPI 1.0.3 and 2.0.0 / IEEE 9274.1.1), one per tenant."""
