"""Server-rendered web pages (Jinja2, Traditional Chinese and English, almost no JavaScript)."""
