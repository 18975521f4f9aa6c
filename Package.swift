// swift-tools-version:6.1
// Vangnet: a privacy-preserving data-exchange gateway between DUO, UWV and the RMC regions.

import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "vangnet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vangnet", targets: ["vangnet"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(name: "CSodium", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        .target(name: "CSpawn"),
        .target(name: "VangnetCrypto", dependencies: ["CSodium"], swiftSettings: swiftSettings),
        .target(name: "VangnetCore", swiftSettings: swiftSettings),
        .target(
            name: "BatchEnvelope",
            dependencies: ["VangnetCore", "VangnetCrypto", "Records"],
            swiftSettings: swiftSettings
        ),
        .target(name: "Records", dependencies: ["VangnetCore"], swiftSettings: swiftSettings),
        .target(
            name: "Pseudonymisation",
            dependencies: ["VangnetCore", "VangnetCrypto", "Records"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AccessPolicy",
            dependencies: ["VangnetCore", "VangnetCrypto", "Records"],
            swiftSettings: swiftSettings
        ),
        .target(name: "AuditLog", dependencies: ["VangnetCore", "VangnetCrypto"], swiftSettings: swiftSettings),
        .target(
            name: "Storage",
            dependencies: [
                "VangnetCore", "VangnetCrypto", "Records", "Pseudonymisation", "AuditLog", "BatchEnvelope",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "PostgresStorage",
            dependencies: [
                "Storage", "AuditLog", "BatchEnvelope", "Records", "Pseudonymisation", "VangnetCore", "VangnetCrypto",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Gateway",
            dependencies: [
                "VangnetCore", "VangnetCrypto", "BatchEnvelope", "Records", "Pseudonymisation",
                "AccessPolicy", "AuditLog", "Storage",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The program's choice of store: SQLite or PostgreSQL from `gateway.database`, for the
        // programs that compose a gateway (the CLI, the benchmarks, the tests).
        .target(
            name: "StoreSelection",
            dependencies: [
                "Gateway", "Storage", "PostgresStorage", "AuditLog", "VangnetCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The mTLS client of the gateway's API, for sources and regions (the CLI, the tests).
        .target(
            name: "VangnetClient",
            dependencies: [
                "BatchEnvelope",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        // What development, the demo, the benchmarks and the tests use and production does not:
        // the development PKI and setup, child processes, a `vangnet serve` run as one.
        .target(
            name: "DevelopmentSupport",
            dependencies: [
                "Gateway", "AccessPolicy", "BatchEnvelope", "VangnetCore", "VangnetCrypto", "CSpawn",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fuzz harnesses: libFuzzer targets under scripts/fuzz.sh, corpus replay tools otherwise.
        .target(name: "FuzzSupport", swiftSettings: swiftSettings),
        .executableTarget(
            name: "FuzzEnvelope",
            dependencies: ["FuzzSupport", "BatchEnvelope", "Records", "VangnetCore", "VangnetCrypto"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "FuzzRecords",
            dependencies: ["FuzzSupport", "Records", "VangnetCore"],
            swiftSettings: swiftSettings
        ),
        // `vangnet bench`: the benchmarks and their baselines (plain GRDB, PostgresNIO and SQLite
        // C API reads, the Python status quo), apart from the tool that serves.
        .target(
            name: "Benchmarks",
            dependencies: [
                "Gateway", "VangnetClient", "DevelopmentSupport", "AccessPolicy", "AuditLog", "BatchEnvelope",
                "Records", "Storage", "PostgresStorage", "VangnetCore", "VangnetCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "vangnet",
            dependencies: [
                "Gateway", "StoreSelection", "VangnetClient", "DevelopmentSupport", "Benchmarks", "AccessPolicy",
                "BatchEnvelope", "Records", "AuditLog", "Storage", "PostgresStorage", "VangnetCore", "VangnetCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "VangnetCryptoTests", dependencies: ["VangnetCrypto"]),
        .testTarget(name: "RecordsTests", dependencies: ["Records", "VangnetCore"]),
        .testTarget(name: "BatchEnvelopeTests", dependencies: ["BatchEnvelope", "VangnetCrypto", "VangnetCore"]),
        .testTarget(name: "PseudonymisationTests", dependencies: ["Pseudonymisation", "VangnetCrypto", "VangnetCore"]),
        .testTarget(
            name: "AccessPolicyTests",
            dependencies: ["AccessPolicy", "Records", "VangnetCore", "VangnetCrypto"]
        ),
        .testTarget(name: "AuditLogTests", dependencies: ["AuditLog", "Storage", "VangnetCrypto", "VangnetCore"]),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "PostgresStorage", "BatchEnvelope", "Records", "Pseudonymisation", "AuditLog",
                "VangnetCrypto", "VangnetCore",
            ]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "StoreSelection", "VangnetClient", "DevelopmentSupport", "AccessPolicy", "Pseudonymisation",
                "BatchEnvelope", "Records", "Storage", "PostgresStorage",
                "AuditLog", "VangnetCore", "VangnetCrypto",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
