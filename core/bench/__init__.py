"""Speed benchmarks: synthetic scenes, timing helpers, the app-server harness, the run itself."""
