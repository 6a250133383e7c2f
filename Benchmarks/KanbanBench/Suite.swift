import Foundation

/// Everything one run measured.
public struct SuiteResults: Sendable {
    public var lifecycle: [LifecycleResult] = []
    public var beanstalk: [Int: [LifecycleResult]] = [:]  // by fsync ms
    public var beanstalkMissing: String?
    public var echo: [EchoBench.Result] = []
    public var events: EventBench.Result?
    public var scaling: [ScalingResult] = []
    public var claimReplyBytes = 0
    public var claimRequestBytes = 0
}

public struct ScalingResult: Sendable {
    public var readyTasks: Int
    public var loadSeconds: Double
    public var claimLatency: LatencySummary?
    public var peakRSSKiB: Int?
    public var queryPlan: String
}

/// Runs every measurement in turn, each on a fresh board and a fresh coordinator process.
public struct Suite {
    public let plan: BenchPlan
    public let bridgeBinary: String
    public let beanstalkBinary: String?
    public let workDir: String
    public let progress: (String) -> Void

    public init(plan: BenchPlan, bridgeBinary: String, beanstalkBinary: String?, workDir: String, progress: @escaping (String) -> Void) {
        self.plan = plan; self.bridgeBinary = bridgeBinary; self.beanstalkBinary = beanstalkBinary
        self.workDir = workDir; self.progress = progress
    }

    private var runNumber = 0
    private mutating func freshDir(_ label: String) -> String {
        runNumber += 1
        return "\(workDir)/\(runNumber)-\(label)"
    }

    private func coordinator(on board: BenchBoard, dir: String) throws -> BridgeProcess {
        try BridgeProcess(binary: bridgeBinary, board: board.path, adminToken: board.adminToken, logFile: dir + "/serve.log")
    }

    public mutating func run() throws -> SuiteResults {
        var results = SuiteResults()
        try measureMessageSizes(&results)
        for workers in plan.workers {
            for claimNext in [false, true] {
                let dir = freshDir("lifecycle-\(workers)\(claimNext ? "-next" : "")")
                let board = try BenchBoard(dir: dir, tasks: plan.tasks)
                let bridge = try coordinator(on: board, dir: dir)
                let r = try LifecycleBench.run(endpoint: bridge.command, board: board, workers: workers, claimNext: claimNext,
                                               maxSeconds: plan.maxSeconds)
                bridge.stop()
                progress("kanban \(claimNext ? "claim_next" : "claim→complete") N=\(workers): \(r.tasksDone) tasks in "
                         + String(format: "%.2f s = %.0f tasks/s", r.seconds, r.tasksPerSecond))
                results.lifecycle.append(r)
            }
            let echo = try EchoBench.run(clients: workers, requestBytes: results.claimRequestBytes,
                                         replyBytes: results.claimReplyBytes, seconds: plan.echoSeconds)
            progress("zeromq echo N=\(workers): " + String(format: "%.0f round trips/s", echo.roundTripsPerSecond))
            results.echo.append(echo)
            if let beanstalkBinary {
                for fsync in plan.beanstalkFsyncMs {
                    let r = try BeanstalkBench.run(binary: beanstalkBinary, dir: freshDir("beanstalk-\(workers)-f\(fsync)"),
                                                   workers: workers, jobs: plan.tasks, fsyncMs: fsync, maxSeconds: plan.maxSeconds)
                    progress("beanstalkd -f \(fsync) N=\(workers): " + String(format: "%.0f jobs/s", r.tasksPerSecond))
                    results.beanstalk[fsync, default: []].append(r)
                }
            }
        }
        if beanstalkBinary == nil {
            results.beanstalkMissing = "beanstalkd not found: install it (Debian: apt-get install beanstalkd) or pass --beanstalkd PATH"
        }
        do {
            let dir = freshDir("events")
            let board = try BenchBoard(dir: dir, tasks: 0)
            let bridge = try coordinator(on: board, dir: dir)
            let r = try EventBench.run(commandEndpoint: bridge.command, eventEndpoint: bridge.events, board: board,
                                       subscribers: plan.subscribers, events: plan.events)
            bridge.stop()
            progress("events: \(r.events) × \(r.subscribers) subscribers, commit→receive p99 \(Format.ms(r.commitToReceive?.p99)) ms")
            results.events = r
        }
        for size in plan.scalingSizes {
            let dir = freshDir("scaling-\(size)")
            progress("loading \(size) ready tasks …")
            let board = try BenchBoard(dir: dir, tasks: size)
            let bridge = try coordinator(on: board, dir: dir)
            let r = try LifecycleBench.run(endpoint: bridge.command, board: board, workers: 1, claimNext: false,
                                           maxSeconds: plan.maxSeconds, maxTasks: plan.scalingClaims)
            let rss = bridge.peakRSSKiB
            bridge.stop()
            let plan = try board.claimQueryPlan()
            progress("scaling \(size): claim p50 \(Format.ms(r.claimLatency?.p50)) ms, peak RSS \(Format.mib(rss))")
            results.scaling.append(ScalingResult(readyTasks: size, loadSeconds: board.loadSeconds, claimLatency: r.claimLatency,
                                                 peakRSSKiB: rss, queryPlan: plan))
            try? FileManager.default.removeItem(atPath: dir)
        }
        return results
    }

    /// Sizes of a real claim request and reply, so the echo server moves the same bytes.
    private mutating func measureMessageSizes(_ results: inout SuiteResults) throws {
        let dir = freshDir("sizes")
        let board = try BenchBoard(dir: dir, tasks: 1)
        let bridge = try coordinator(on: board, dir: dir)
        defer { bridge.stop() }
        let client = try WireClient(context: .init(), endpoint: bridge.command, auth: board.tokens[BenchBoard.workLane]!, name: "size")
        let reply = try client.claim(lane: BenchBoard.workLane)
        guard ReplyScan.grant(reply) != nil else { throw BenchError("the sizing claim got no task: \(String(decoding: reply, as: UTF8.self))") }
        results.claimReplyBytes = reply.count
        results.claimRequestBytes = client.lastRequestBytes
    }
}
