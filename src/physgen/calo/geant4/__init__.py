"""Geant4 reference simulation (optional extra ``physgen[geant4]``)."""
