"""The application database: engine, typed models, migrations."""
