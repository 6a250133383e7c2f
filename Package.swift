// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "KanbanBridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kanban-bridge", targets: ["kanban-bridge"]),
        .executable(name: "kanban-events", targets: ["kanban-events"]),
        .library(name: "KanbanClient", targets: ["KanbanClient"]),
        .executable(name: "kanban-example-swift-worker", targets: ["kanban-example-swift-worker"]),
        .executable(name: "kanban-bench", targets: ["kanban-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
    ],
    targets: [
        // libzmq from the system (Debian: libzmq3-dev), found through pkg-config.
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        // posix_spawn with a working directory and its own process group, for spawned workers.
        .target(name: "CSpawn"),
        // SQLite's process-wide options (multi-thread mode, no memory statistics), set before the first
        // connection: sqlite3_config is variadic, so it is called from C.
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),
        // A small, safe Swift face over the C API: sockets, frames, poll, errors.
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        // Pure domain: statuses, lanes, readiness and authority rules. No I/O. (swift-crypto for the
        // token hashes and HMACs: pure functions too.)
        .target(name: "KanbanModel", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        // The wire: request decoding, replies, error codes, event topics.
        .target(name: "KanbanProtocol", dependencies: ["KanbanModel"]),
        // SQLite board (Hermes schema + bridge_* tables) behind the BoardStore protocol.
        .target(name: "KanbanStore", dependencies: [
            "KanbanModel", "CSQLiteTuning",
            .product(name: "GRDB", package: "GRDB.swift"),
        ]),
        // Declared lanes and pools in YAML (bridge-config/), validated with file:line errors.
        .target(name: "KanbanConfig", dependencies: ["KanbanModel", .product(name: "Yams", package: "Yams")]),
        // The service: one owner thread, ROUTER + PUB sockets, op handlers.
        .target(name: "KanbanCoordinator", dependencies: [
            "ZeroMQ", "KanbanModel", "KanbanProtocol", "KanbanStore", "CSpawn",
            .product(name: "Logging", package: "swift-log"),
            // A pooled run's Hermes config.yaml: the profile's, with the run's write gates (`RunHomes`).
            .product(name: "Yams", package: "Yams"),
        ]),
        // Client library used by the CLI and Swift workers.
        .target(name: "KanbanClient", dependencies: ["ZeroMQ", "KanbanProtocol"]),
        // The HTTP face (docs/CONSOLE.md): JSON API, SSE, /metrics and the console's static files, on
        // Hummingbird. A client of the wire only: it never opens the board and never runs on the owner thread.
        .target(name: "KanbanWeb", dependencies: [
            "KanbanClient", "KanbanProtocol", "KanbanModel", "KanbanConfig", "ZeroMQ",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.copy("Resources/console")]),
        // A pool on any host (`kanban-bridge runner`). It reuses the coordinator's process and
        // workspace code (ProcessControl, Workspaces) rather than a copy of it.
        .target(name: "KanbanRunner", dependencies: [
            "KanbanClient", "KanbanCoordinator", "KanbanModel", "KanbanProtocol",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Both CLIs' entry point: usage errors exit 2, as their --help says.
        .target(name: "CommandLineExit", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "kanban-bridge", dependencies: [
            "CommandLineExit", "KanbanCoordinator", "KanbanClient", "KanbanRunner", "KanbanWeb", "KanbanStore", "KanbanConfig", "ZeroMQ",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Live terminal dashboard and JSON-lines event tail.
        .executableTarget(name: "kanban-events", dependencies: [
            "CommandLineExit", "KanbanClient", "KanbanProtocol", "KanbanModel",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // examples/swift-worker: a lane worker on LaneWorker, run by Tests/interop/test_example_workers.py.
        .executableTarget(name: "kanban-example-swift-worker", dependencies: ["KanbanClient", "KanbanModel"],
                          path: "examples/swift-worker", exclude: ["README.md"]),
        // The benchmark (docs/PERFORMANCE.md): the coordinator against ZeroMQ echo and beanstalkd.
        .target(name: "KanbanBench", dependencies: [
            "ZeroMQ", "KanbanModel", "KanbanProtocol", "KanbanStore",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Benchmarks/KanbanBench"),
        .executableTarget(name: "kanban-bench", dependencies: ["KanbanBench"], path: "Benchmarks/kanban-bench"),
        .testTarget(name: "KanbanModelTests", dependencies: ["KanbanModel"]),
        .testTarget(name: "KanbanConfigTests", dependencies: ["KanbanConfig", "KanbanModel"]),
        .testTarget(name: "KanbanProtocolTests", dependencies: ["KanbanProtocol", "KanbanClient"]),
        .testTarget(name: "KanbanStoreTests", dependencies: [
            "KanbanStore", "KanbanModel", .product(name: "GRDB", package: "GRDB.swift"),
        ], exclude: ["Fixtures"]),  // read by path (#filePath), not bundled
        .testTarget(name: "KanbanBenchTests", dependencies: ["KanbanBench"]),
        // The coordinator's state machines, without sockets or a board (ParkedClaims, WriteQueue, …).
        .testTarget(name: "KanbanCoordinatorTests", dependencies: ["KanbanCoordinator", "KanbanModel", "KanbanProtocol", "KanbanStore"]),
        .testTarget(name: "KanbanIntegrationTests", dependencies: [
            "KanbanCoordinator", "KanbanClient", "KanbanStore", "ZeroMQ", "KanbanProtocol", "KanbanBench", "KanbanWeb",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
    ]
)
