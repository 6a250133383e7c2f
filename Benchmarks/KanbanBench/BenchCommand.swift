import ArgumentParser
import Foundation

/// `kanban-bench`: measures the coordinator against its transport's ceiling and against beanstalkd.
public struct BenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "kanban-bench",
        abstract: "Benchmark kanban-bridge: lifecycle throughput, latencies, events, scaling, memory; ZeroMQ echo and beanstalkd baselines.",
        discussion: """
            Starts `kanban-bridge serve` as a child process on a fresh board for every measurement (boards live in a temporary \
            directory), and beanstalkd with a binlog on a free loopback port. Build in release mode first: \
            swift build -c release && .build/release/kanban-bench --quick
            """,
        subcommands: [ReplayCommand.self])

    @Flag(help: "Small sizes: about two minutes on two cores.")
    var quick = false

    @Option(help: "Worker counts, comma-separated (default 1,8,32).")
    var workers: String?

    @Option(help: "Tasks preloaded per lifecycle run and jobs per beanstalkd run (quick 3000, full 20000).")
    var tasks: Int?

    @Option(help: "Ready tasks for the scaling runs, comma-separated; k and m suffixes (default 1k,100k,1m).")
    var scaling: String?

    @Option(help: "Seconds a lifecycle run may take at most (quick 6, full 30).")
    var maxSeconds: Double?

    @Option(help: "beanstalkd -f values to compare with, comma-separated (default 0,50; 0 = fsync every write).")
    var beanstalkdFsync: String?

    @Option(help: ArgumentHelp("The kanban-bridge binary (default: next to this one).", valueName: "path"))
    var bridge: String?

    @Option(help: ArgumentHelp("The beanstalkd binary (default: found on PATH).", valueName: "path"))
    var beanstalkd: String?

    @Option(help: ArgumentHelp("Also write the Markdown report to this file.", valueName: "path"))
    var output: String?

    @Flag(help: "Keep the boards and logs in the temporary directory.")
    var keep = false

    @Flag(help: ArgumentHelp("Run only the stall scenario: a persistent lane's heartbeats while a worktree pool makes and prunes worktrees of a large repository, and reads while another connection holds the write lock."))
    var stall = false

    @Flag(help: ArgumentHelp("Run only the SSE scenario: 8-worker complete+claim_next throughput without and with 20 live SSE clients of `kanban-bridge web`, and the face's peak RSS."))
    var sse = false

    @Flag(help: ArgumentHelp("Run only the hostile scenario: a well-behaved lane's latency and the coordinator's memory under each attack (unread replies, unauthenticated megabyte requests, heartbeat amplification, malformed envelopes)."))
    var hostile = false

    @Flag(help: ArgumentHelp("With --hostile: run only its dependency part (link, complete and a fan-out's release at 10 and at 10,000 links, issue #19 finding 7)."))
    var linksOnly = false

    @Flag(help: ArgumentHelp("Run only the instruction count: the coordinator's instructions and SQLite statements per task under callgrind, and its floor, the same SQL replayed in-process (needs valgrind, strip and cc)."))
    var instructions = false

    @Option(help: ArgumentHelp("With --instructions: another kanban-bridge binary measured the same way in the same run (the ratios are --bridge ÷ this).", valueName: "path"))
    var compare: String?

    @Option(help: "With --instructions: the tasks of the small and the large run, whose difference is measured.")
    var instructionTasks = "200,1200"

    @Option(help: "Seconds the hostile scenario probes during each attack.")
    var probeSeconds = 8.0

    @Option(help: "Files in the stall scenario's git repository.")
    var repoFiles = 20_000

    @Option(help: "Seconds the stall scenario holds the board's write lock.")
    var lockSeconds = 10.0

    public init() {}

    /// The plan these options describe.
    func makePlan() throws -> BenchPlan {
        var plan = quick ? BenchPlan.quick : BenchPlan.full
        if let workers { plan.workers = try BenchPlan.parseSizes(workers) }
        if let tasks { plan.tasks = tasks }
        if let scaling { plan.scalingSizes = try BenchPlan.parseSizes(scaling) }
        if let maxSeconds { plan.maxSeconds = maxSeconds }
        if let beanstalkdFsync { plan.beanstalkFsyncMs = try BenchPlan.parseSizes(beanstalkdFsync) }
        guard plan.workers.allSatisfy({ (1...1024).contains($0) }) else { throw ValidationError("--workers: each 1...1024") }
        guard plan.tasks >= 1 else { throw ValidationError("--tasks must be at least 1") }
        return plan
    }

    /// The small and large task counts of --instructions.
    func instructionSizes() throws -> (small: Int, large: Int) {
        let sizes = try BenchPlan.parseSizes(instructionTasks)
        guard sizes.count == 2, sizes[0] >= 1, sizes[1] > sizes[0] else {
            throw ValidationError("--instruction-tasks: two counts, the second larger (e.g. 200,1200)")
        }
        return (sizes[0], sizes[1])
    }

    public func validate() throws {
        _ = try makePlan()
        _ = try instructionSizes()
        if compare != nil && !instructions { throw ValidationError("--compare goes with --instructions") }
    }

    public func run() throws {
        let plan = try makePlan()
        let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let bridgeBinary = bridge ?? here.appendingPathComponent("kanban-bridge").path
        guard FileManager.default.isExecutableFile(atPath: bridgeBinary) else {
            throw ValidationError("no kanban-bridge at \(bridgeBinary): build it (swift build -c release) or pass --bridge")
        }
        let workDir = FileManager.default.temporaryDirectory.appendingPathComponent("kanban-bench-\(UUID().uuidString.prefix(8))").path
        defer { if !keep { try? FileManager.default.removeItem(atPath: workDir) } }
        let machine = MachineInfo.current()
        let started = nowNs()
        let progress = { (line: String) in
            FileHandle.standardError.write(Data(String(format: "[%6.1f s] ", Double(nowNs() - started) / 1e9).utf8 + Data((line + "\n").utf8)))
        }
        /// One scenario's report: a header with the machine and the command, then its tables.
        func report(_ scenario: String, _ tables: String) throws {
            let text = "## kanban-bench --\(scenario) run of \(machine.date)\n\n- machine: \(machine.cores) cores, \(machine.cpuModel), "
                + "load average at start \(machine.loadAverage), at end \(MachineInfo.current().loadAverage)\n- command: `"
                + (["kanban-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ") + "`\n\n" + tables
            print(text)
            if let output { try text.write(toFile: output, atomically: true, encoding: .utf8) }
        }
        if sse {
            let r = try SSEBench.run(bridgeBinary: bridgeBinary, workDir: workDir, tasks: plan.tasks, maxSeconds: plan.maxSeconds,
                                     progress: progress)
            return try report("sse", SSEBench.render(r))
        }
        if hostile {
            let rows = linksOnly ? [] : try HostileBench.run(bridgeBinary: bridgeBinary, workDir: workDir, probeSeconds: probeSeconds, progress: progress)
            let links = try LinkBench.run(bridgeBinary: bridgeBinary, workDir: workDir, progress: progress)
            return try report("hostile", (rows.isEmpty ? "" : HostileBench.render(rows) + "\n") + LinkBench.render(links))
        }
        if instructions {
            let sizes = try instructionSizes()
            let results = try InstructionsBench.run(binaries: [bridgeBinary] + (compare.map { [$0] } ?? []), smallTasks: sizes.small,
                                                    largeTasks: sizes.large, workDir: workDir, progress: progress)
            try report("instructions", InstructionsBench.render(results))
            if keep { print("kept in \(workDir) (callgrind_annotate \(workDir)/1/\(sizes.large)/coordinator.callgrind)") }
            return
        }
        if stall {
            let r = try StallBench.run(bridgeBinary: bridgeBinary, dir: workDir + "/stall", repoFiles: repoFiles, lockSeconds: lockSeconds,
                                       progress: progress)
            return try report("stall", StallBench.render(r))
        }
        let beanstalkBinary = BeanstalkServer.find(beanstalkd)
        if beanstalkBinary == nil {
            FileHandle.standardError.write(Data("kanban-bench: beanstalkd not found; install it with `apt-get install beanstalkd` (or scripts/setup --bench). Continuing without it.\n".utf8))
        }
        var suite = Suite(plan: plan, bridgeBinary: bridgeBinary, beanstalkBinary: beanstalkBinary, workDir: workDir, progress: progress)
        let results = try suite.run()
        let report = Report(results: results, machine: machine, loadAfter: MachineInfo.current().loadAverage,
                            command: (["kanban-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ")).render()
        print(report)
        print(String(format: "(took %.0f s%@)", Double(nowNs() - started) / 1e9, keep ? "; boards kept in \(workDir)" : ""))
        if let output { try report.write(toFile: output, atomically: true, encoding: .utf8) }
    }
}
