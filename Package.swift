// swift-tools-version:6.1
import PackageDescription

// Layers, each one folder and one target; a layer only imports the ones below it:
//   LakeFormat (Parquet + zstd) <- LakeCatalog (SQLite manifest, DuckLake layout)
//   <- LakePipeline (sources, registry, validation, ingest, maintenance)
//   <- LakeQuery (scans and reports) <- LakeCLI (the `lake` executable: arguments in, text out)
// The tests run our own modules optimized: `swift test` builds the debug configuration, where
// an ingest ran about 30x slower than in release (1 s of CPU for 100,000 orders became 29 s),
// and the suite spent most of its time there. -O after SwiftPM's -Onone wins; -enable-testing
// (kept by the debug configuration) still lets the tests' @testable imports in. Dependencies
// stay unoptimized, so their compile time does not grow.
let optimizedInTests: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "lake",
    products: [
        .executable(name: "lake", targets: ["LakeCLI"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Without the default ConfigurationSupport trait: `lake serve` takes its settings as
        // options, and swift-configuration would be one more package built on every CI run.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
    ],
    targets: [
        .systemLibrary(
            name: "CZstd",
            path: "Sources/CZstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        // zlib and Brotli decode GZIP and BROTLI pages, which DuckDB writes into a DuckLake whose
        // parquet_compression option names them (we write zstd only).
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CBrotli",
            path: "Sources/CBrotli",
            providers: [.apt(["libbrotli-dev"])]
        ),
        // libpq, the PostgreSQL client the catalog's PostgreSQL backend uses (DESIGN.md), loaded
        // when a PostgreSQL catalog is opened (dlopen), not linked; builds with libpq-dev's header.
        .target(name: "CLibPQ", path: "Sources/CLibPQ", linkerSettings: [.linkedLibrary("dl")]),
        // The alert webhook's HTTP POST, through libcurl loaded when a webhook is posted (dlopen):
        // Foundation's URLSession linked libcurl and its TLS, LDAP and Kerberos libraries into
        // every command's start-up. Builds with libcurl's headers (libcurl4-openssl-dev).
        .target(name: "CWebhook", path: "Sources/CWebhook", linkerSettings: [.linkedLibrary("dl")]),
        // Compiler intrinsics Swift does not expose (cache prefetch), as static inline C.
        .target(name: "CLakeSupport", path: "Sources/CLakeSupport"),
        .target(name: "LakeFormat", dependencies: ["CZstd", "CZlib", "CBrotli", "CLakeSupport"], swiftSettings: optimizedInTests),
        .target(
            name: "LakeCatalog",
            dependencies: ["LakeFormat", "CLibPQ", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")],
            swiftSettings: optimizedInTests
        ),
        .target(name: "LakePipeline", dependencies: ["LakeFormat", "LakeCatalog", "CLakeSupport"], swiftSettings: optimizedInTests),
        .target(name: "LakeQuery", dependencies: ["LakeFormat", "LakeCatalog", "LakePipeline", "CLakeSupport"], swiftSettings: optimizedInTests),
        // `lake serve`: the HTTP API over LakeQuery's reports; the only target that sees Hummingbird.
        .target(
            name: "LakeServer",
            dependencies: [
                "LakeFormat", "LakeCatalog", "LakePipeline", "LakeQuery",
                .product(name: "Hummingbird", package: "hummingbird"),
            ]
        ),
        .executableTarget(
            name: "LakeCLI",
            dependencies: [
                "LakeFormat", "LakeCatalog", "LakePipeline", "LakeQuery", "LakeServer", "CWebhook", "CLakeSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Shared by the test targets: temporary directories and the Python peers (DuckDB, pyarrow).
        .target(name: "LakeTestSupport", dependencies: ["LakeFormat"], path: "Tests/LakeTestSupport", exclude: ["python-peer-server.py"]),
        // Benchmarks print figures next to the peers' (bench/*.sh); they are not tests.
        .executableTarget(name: "LakeBench", dependencies: ["LakeFormat"]),
        // Test-only: a catalog writer the crash-injection and multi-process tests SIGKILL and race,
        // and the child process of the test cluster's watchdog test (--pg-cluster)
        // (LakeCatalogTests run it from .build/debug/LakeCatalogWriter; `swift build` builds it).
        .executableTarget(name: "LakeCatalogWriter", dependencies: ["LakeCatalog", "LakeFormat", "LakeTestSupport"], path: "Tests/LakeCatalogWriter"),
        .testTarget(name: "LakeFormatTests", dependencies: ["LakeFormat", "LakeTestSupport"]),
        .testTarget(name: "LakeCatalogTests", dependencies: ["LakeCatalog", "LakeFormat", "LakeTestSupport"]),
        // Test-only: a SQLite VFS that fails a COMMIT's fsync of the write-ahead log (CommitIOErrorTests).
        .target(name: "CFaultVFS", path: "Tests/CFaultVFS", linkerSettings: [.linkedLibrary("sqlite3")]),
        .testTarget(name: "LakePipelineTests", dependencies: ["LakePipeline", "LakeCatalog", "LakeFormat", "LakeTestSupport", "CFaultVFS"]),
        .testTarget(name: "LakeServerTests", dependencies: ["LakeServer", "LakeQuery", "LakeTestSupport"]),
        .testTarget(
            name: "LakeQueryTests",
            dependencies: ["LakeQuery", "LakePipeline", "LakeCatalog", "LakeFormat", "LakeTestSupport"]
        ),
    ]
)
