"""The mongosh / Compass shell syntax, shared by every tab that takes typed values.

``tokens`` (tokenizer), ``parser`` (recursive descent to BSON values, never evaluated)
and ``format`` (values written back as shell text).
"""
