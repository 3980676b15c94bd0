"""The Dotdigital API client."""
