"""Domain-free two-sample metrics: separation power, classifier test, Frechet/kernel distances."""
