"""The paper configs, installed as the package ``treelstm_configs`` (see pyproject.toml).

``papers.yaml`` and the configs it names are this package's data, so ``treelstm reproduce`` finds
them through ``importlib.resources`` from a wheel as from the checkout; ``own-data/`` is not shipped.
"""
