"""Face detection: the :class:`Face` box every detector returns, and the detectors themselves."""
from core.faces.base import Face, crop_face, whole_image_face
from core.faces.haar import FaceDetector

__all__ = ["Face", "FaceDetector", "crop_face", "whole_image_face"]
