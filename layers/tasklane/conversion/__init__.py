"""DOCX -> PDF with LibreOffice: what the converter function runs (a container image on AWS)."""
