"""The classifiers: one interface (base), the model registry and model card, and each model."""
