"""Analysing photos: detect faces, classify each with every model, one result format."""
