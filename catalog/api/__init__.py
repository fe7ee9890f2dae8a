"""The catalog's REST API and DCAT/GUID endpoints, one router per module."""
