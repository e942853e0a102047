"""Patient ids and pneumonia subtypes from Kermany file names.

The dataset has no metadata file; the names carry it:
  personN_bacteria_M.jpeg / personN_virus_M.jpeg   PNEUMONIA, patient ``personN``
  IM-NNNN-MMMM.jpeg (also IM-NNNN-MMMM-KKKK)        NORMAL, patient ``IM-NNNN``
  NORMAL2-IM-NNNN-MMMM.jpeg                         NORMAL, patient ``NORMAL2-IM-NNNN``
Grouping by patient matters: several images of one child in both train and
validation make validation scores optimistic.
"""

from __future__ import annotations

import re

_PERSON = re.compile(r"^(person\d+)_(bacteria|virus)_\d+", re.IGNORECASE)
_NORMAL2 = re.compile(r"^(NORMAL2-IM-\d+)-\d+", re.IGNORECASE)
_IM = re.compile(r"^(IM-\d+)-\d+", re.IGNORECASE)
_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def parse_name(name: str) -> tuple[str | None, str | None]:
    """``(patient, subtype)`` from a file name; ``None`` where the name says nothing."""
    stem = name.rsplit("/", 1)[-1]
    if m := _PERSON.match(stem):
        return m.group(1).lower(), m.group(2).lower()
    if m := _NORMAL2.match(stem):
        return m.group(1).upper(), None
    if m := _IM.match(stem):
        return m.group(1).upper(), None
    return None, None


def patient_number(patient: str) -> tuple[str, float]:
    """``("NORMAL2-IM-", 383)`` for ``NORMAL2-IM-0383``: the id series and the
    patient's number in it. The official splits are blocks of these numbers.
    An id without a number gives ``("", inf)``, so it sorts last."""
    if m := _NUMBERED.match(patient):
        return m.group(1), int(m.group(2))
    return "", float("inf")
