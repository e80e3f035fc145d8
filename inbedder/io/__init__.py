"""Reading the user's corpus and writing results: one import for the three modules that do it.

* :mod:`inbedder.io.reading`: a file's format and encoding -> a frame of cells (:func:`read_table`);
* :mod:`inbedder.io.corpus`: cells -> texts, ids and labels (:func:`read_corpus`, :class:`Corpus`);
* :mod:`inbedder.io.writing`: tables, embeddings and JSON, each landing whole (:func:`write_table`).

Every problem with a user's file is a one-line :class:`~inbedder.errors.InBedderError`.
"""

from __future__ import annotations

from inbedder.io.corpus import Corpus, read_corpus
from inbedder.io.delimited import is_number
from inbedder.io.reading import INPUT_SUFFIXES, read_table
from inbedder.io.writing import (
    EMBEDDING_SUFFIXES, TABLE_SUFFIXES, check_writable, write_embeddings, write_json, write_table,
)

__all__ = [
    "Corpus", "EMBEDDING_SUFFIXES", "INPUT_SUFFIXES", "TABLE_SUFFIXES", "check_writable", "is_number",
    "read_corpus", "read_table", "write_embeddings", "write_json", "write_table",
]
