"""Figures: explained trees and their drawings, training curves."""
