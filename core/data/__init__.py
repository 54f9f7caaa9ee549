"""Labelled datasets on disk."""
