"""Tests of workbench.questionnaires (templates, scoring, workflow, CLI)."""
