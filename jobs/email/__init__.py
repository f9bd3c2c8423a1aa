"""Email job: templates, messages and SMTP delivery."""
