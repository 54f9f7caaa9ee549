"""Decoding what users give us (photos; later video) into arrays."""
