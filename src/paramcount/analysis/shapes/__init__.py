"""Shape propagation: output shapes, MACs and FLOPs of every module for one input shape, without torch.

``propagate.py`` walks the tree; ``types.py`` holds its records; the rules are per family of modules:
``layers.py``, ``conv.py``, ``spatial.py``, ``sequence.py`` (torch.nn's layers), ``flow.py`` (composite blocks
declared as dataflow), ``vision.py`` (torchvision's blocks), ``transformers.py`` (steps shared by transformers'
classes), ``decoders.py``, ``encoders.py``, ``seq2seq.py``. Nothing is imported here, so reading the records
(``types``) does not load the rules.
"""
