# A tiny Sphinx project that draws the bundled example: see docs/embedding.md.
# Build it with: sphinx-build -b html examples/embed/sphinx /tmp/handbook
project = "Sales handbook"
extensions = ["flowsim.sphinx"]
