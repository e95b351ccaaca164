"""Coupon codes: import, issue to winning plays, validate, redeem, export."""
