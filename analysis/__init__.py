"""Statistics, data handling and the build pipeline of the CNS-metastases book.

Chapters in ``book/`` are thin: they call into this package. Every statistic
the book shows is computed here.
"""

__version__ = "0.1.0"
