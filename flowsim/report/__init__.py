"""The report of ``flowsim run``: charts, the page, the Markdown and the JSON of every figure."""
