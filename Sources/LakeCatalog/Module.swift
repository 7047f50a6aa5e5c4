public enum LakeCatalogModule {}
