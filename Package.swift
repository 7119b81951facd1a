// swift-tools-version:6.2
import PackageDescription

/// Settings shared by every Swift target of Swell.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "swell",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swell", targets: ["swell"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", exact: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", exact: "6.2.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", exact: "0.9.20"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", exact: "1.7.3"),
        // OpenTelemetry: only its OTLP/HTTP exporter (no gRPC stack).
        .package(url: "https://github.com/swift-otel/swift-otel.git", exact: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
    ],
    targets: [
        // Process spawning with the guarantees Foundation.Process cannot give:
        // a new process group, no inherited descriptors, rlimits, a uid switch.
        .target(name: "CSwellSpawn"),
        // The system zlib, for gzip-compressed Kafka record batches.
        .systemLibrary(name: "CSwellZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "SwellModel",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellStore",
            dependencies: [
                "SwellModel",
                "CSwellSpawn",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellScheduler",
            dependencies: [
                "SwellModel",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellRuntime",
            dependencies: [
                "SwellModel",
                "SwellScheduler",
                "CSwellSpawn",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Bootstraps")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellInvoker",
            dependencies: [
                "SwellModel",
                "SwellStore",
                "SwellScheduler",
                "SwellRuntime",
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // Swell's own Kafka client: a pure protocol codec and SwiftNIO connections above it.
        .target(
            name: "SwellKafka",
            dependencies: [
                "CSwellZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellTasks",
            dependencies: [
                "SwellModel",
                "SwellStore",
                "SwellScheduler",
                "SwellRuntime",
                "SwellInvoker",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // Event sources: Kafka topics, timers, object-store notifications.
        .target(
            name: "SwellTriggers",
            dependencies: [
                "SwellModel",
                "SwellStore",
                "SwellRuntime",
                "SwellInvoker",
                "SwellTasks",
                "SwellKafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellDeploy",
            dependencies: [
                "SwellModel",
                "SwellWorkflow",
                .product(name: "Yams", package: "Yams"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Workflows: the Amazon States Language as pure values (definitions, validation,
        // input/output processing, the interpreter's step function). No I/O.
        .target(
            name: "SwellWorkflow",
            dependencies: [
                "SwellModel",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SwellServer",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                "SwellModel",
                "SwellDeploy",
                "SwellStore",
                "SwellRuntime",
                "SwellInvoker",
                "SwellTasks",
                "SwellTriggers",
                "SwellWorkflow",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "OTel", package: "swift-otel"),
            ],
            resources: [.copy("Resources")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "swell",
            dependencies: [
                "SwellModel",
                "SwellDeploy",
                "SwellServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "SwellModelTests", dependencies: ["SwellModel"], swiftSettings: swiftSettings),
        .testTarget(name: "SwellSchedulerTests", dependencies: ["SwellScheduler", "SwellModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SwellStoreTests",
            dependencies: [
                "SwellStore", "SwellModel", "CSwellSpawn",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(name: "SwellKafkaTests", dependencies: ["SwellKafka"], swiftSettings: swiftSettings),
        .testTarget(name: "SwellTriggersTests", dependencies: ["SwellTriggers", "SwellKafka", "SwellModel"], swiftSettings: swiftSettings),
        .testTarget(name: "SwellWorkflowTests", dependencies: ["SwellWorkflow"], swiftSettings: swiftSettings),
        .testTarget(name: "SwellDeployTests", dependencies: ["SwellDeploy", "SwellModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SwellInvokerTests",
            dependencies: [
                "SwellInvoker", "SwellStore", "SwellModel", "SwellScheduler",
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SwellRuntimeTests",
            dependencies: [
                "SwellRuntime", "SwellModel",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "SwellServerTests",
            dependencies: [
                "SwellServer", "SwellModel", "SwellInvoker", "SwellStore", "SwellWorkflow",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings),
    ]
)
