# SPDX-License-Identifier: MIT
"""Stages and shared helpers of scripts/bench (standard library only)."""
