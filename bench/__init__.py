"""wdh benchmarks: each figure is reported with a baseline measured in the same run."""
