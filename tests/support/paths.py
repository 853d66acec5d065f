"""Where the tests' own files are: fixtures and data live in the repository, never outside it."""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = TESTS_DIR.parent
FIXTURES = TESTS_DIR / "fixtures"
NAB_DATA = TESTS_DIR / "data" / "nab-aws-cloudwatch"  # real CloudWatch series (NAB, MIT), see its README
