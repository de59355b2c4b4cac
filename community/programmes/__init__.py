"""Programmes and their cohorts: programme staff, cohort circles, bulk invitations."""
