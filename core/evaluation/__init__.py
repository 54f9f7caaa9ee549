"""Scoring classifiers on labelled data: metrics and the stored evaluation artifacts."""
