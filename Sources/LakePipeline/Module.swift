public enum LakePipelineModule {}
