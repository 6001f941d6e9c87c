"""The AnalyticsExport construct in a small stack of its own, synthesized once with cdk-nag on."""
