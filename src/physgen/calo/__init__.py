"""Calorimeter showers: geometry, CaloChallenge files, features, simulation, models, evaluation."""
