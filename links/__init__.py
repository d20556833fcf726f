"""Signed links: what an email carries so its recipient can respond without an account."""
