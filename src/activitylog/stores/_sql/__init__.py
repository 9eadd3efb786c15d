"""What every SQL store shares, written once; each store keeps only its dialect.

- :mod:`.rows`: stored rows <-> entries (the fast decoding lives here);
- :mod:`.plan`: the dialect-free parts of turning a :class:`~activitylog.stores.base.QuerySpec`
  into SQL (id ranges for ``since``/``until``, keyset conditions for ``after``, ordering);
- :mod:`.chain`: the chain-record reader used by :func:`activitylog.integrity.verify`.

Each module's docstring is its contract; names are added, never renamed.
"""
