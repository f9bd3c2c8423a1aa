"""Pictures of the Prefect UI as the queue dashboard (``make screenshots``), and the page
driving the UI tests share with them (:mod:`screenshots.dashboard`)."""
