"""jbqa: extractive question answering over Chinese documents about Jiangbei District."""

__version__ = "0.1.0"
