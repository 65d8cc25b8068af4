"""Generative model families, tensors in and tensors out, no physics inside."""
