// swift-tools-version:6.0
import PackageDescription

// Layers, each one folder and one target; a layer only imports the ones below it:
//   LakeFormat (Parquet + zstd) <- LakeCatalog (SQLite manifest, DuckLake layout)
//   <- LakePipeline (sources, registry, validation, ingest, maintenance)
//   <- LakeQuery (scans and reports) <- LakeCLI (the `lake` executable: arguments in, text out)
let package = Package(
    name: "lake",
    products: [
        .executable(name: "lake", targets: ["LakeCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .target(name: "LakeFormat", dependencies: ["CZstd"]),
        .target(
            name: "LakeCatalog",
            dependencies: ["LakeFormat", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(name: "LakePipeline", dependencies: ["LakeFormat", "LakeCatalog"]),
        .target(name: "LakeQuery", dependencies: ["LakeFormat", "LakeCatalog", "LakePipeline"]),
        .executableTarget(
            name: "LakeCLI",
            dependencies: [
                "LakeFormat", "LakeCatalog", "LakePipeline", "LakeQuery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Shared by the test targets: temporary directories and the Python peers (DuckDB, pyarrow).
        .target(name: "LakeTestSupport", path: "Tests/LakeTestSupport"),
        // Benchmarks print figures next to the peers' (bench/*.sh); they are not tests.
        .executableTarget(name: "LakeBench", dependencies: ["LakeFormat"]),
        // Test-only: a catalog writer the crash-injection and multi-process tests SIGKILL and race
        // (LakeCatalogTests run it from .build/debug/LakeCatalogWriter; `swift build` builds it).
        .executableTarget(name: "LakeCatalogWriter", dependencies: ["LakeCatalog", "LakeFormat"], path: "Tests/LakeCatalogWriter"),
        .testTarget(name: "LakeFormatTests", dependencies: ["LakeFormat", "LakeTestSupport"]),
        .testTarget(name: "LakeCatalogTests", dependencies: ["LakeCatalog", "LakeFormat", "LakeTestSupport"]),
        .testTarget(name: "LakePipelineTests", dependencies: ["LakePipeline", "LakeCatalog", "LakeFormat", "LakeTestSupport"]),
        .testTarget(
            name: "LakeQueryTests",
            dependencies: ["LakeQuery", "LakePipeline", "LakeCatalog", "LakeFormat", "LakeTestSupport"]
        ),
    ]
)
