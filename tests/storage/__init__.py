"""Tests for ctikit.storage."""
