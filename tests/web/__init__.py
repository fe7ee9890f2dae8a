"""Tests of the web-facing parts: REST API, GUID resolver, pages, real server, browser."""
