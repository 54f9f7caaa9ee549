"""Training the CNN: configuration, schedule, runs on disk, callbacks, the loop and the export."""
