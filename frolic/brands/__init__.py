"""Brands: whose coupons the games award."""
