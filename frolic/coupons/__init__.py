"""Coupon codes after import: validate, redeem, export."""
