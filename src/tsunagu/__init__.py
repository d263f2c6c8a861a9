"""Tsunagu (つなぐ): an open-source 学習eポータル (learning e-portal) for Japanese schools."""

__version__ = "0.1.0"
