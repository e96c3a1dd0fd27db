"""Integrations with training frameworks; each needs its optional extra.

- :mod:`infodyn.integrations.lightning` — ``InfodynCallback`` for a Lightning ``Trainer``
  (``pip install infodyn[lightning]``).
"""
