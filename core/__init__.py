"""Emotion-recognition workbench: the plain Python library behind the app and the CLI.

Nothing here imports Streamlit. Heavy dependencies (TensorFlow, Keras, DeepFace) are imported
lazily inside the functions that need them, so ``import core`` stays cheap.
"""
import os

# Keras 3 on TensorFlow for our CNN; quiet TensorFlow's C++ start-up chatter.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

__version__ = "0.1.0"
