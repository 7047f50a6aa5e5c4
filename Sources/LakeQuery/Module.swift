public enum LakeQueryModule {}
