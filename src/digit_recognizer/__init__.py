"""digit-recognizer: handwritten digits recognized the way MNIST was made.

The public API, re-exported here (a test checks ``__all__``)::

    from digit_recognizer import Recognizer
    recognizer = Recognizer.load()            # the model shipped in the package
    recognizer.predict("seven.png")           # Prediction(digit=7, confidence=0.99, ...)
    recognizer.predict_number("2025.png")     # NumberPrediction(number="2025", ...)

Nothing here imports torch: training lives in ``digit_recognizer.training``.
"""

from .preprocess import ImageError, NoDigit, preprocess
from .recognizer import DigitInNumber, ModelError, NumberPrediction, Prediction, Recognizer
from .segment import segment  # the function: it shadows the module's name on the package, on purpose

__all__ = [
    "DigitInNumber",
    "ImageError",
    "ModelError",
    "NoDigit",
    "NumberPrediction",
    "Prediction",
    "Recognizer",
    "preprocess",
    "segment",
]
__version__ = "0.3.0"  # the one place the version is written: pyproject.toml reads it; see CHANGELOG.md
