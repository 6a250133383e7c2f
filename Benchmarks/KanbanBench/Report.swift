import Foundation
import ZeroMQ

/// The machine a run happened on, for the report header.
public struct MachineInfo: Sendable {
    public var cores: Int
    public var cpuModel: String
    public var loadAverage: String
    public var kernel: String
    public var date: String

    public static func current() -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "?" } ?? "?"
        let load = ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
        let kernel = ((try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8)) ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
        let formatter = ISO8601DateFormatter()
        return MachineInfo(cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, loadAverage: load,
                           kernel: kernel, date: formatter.string(from: Date()))
    }
}

/// Renders the results as Markdown tables (what docs/PERFORMANCE.md quotes), with ratios and targets.
public struct Report {
    public let results: SuiteResults
    public let machine: MachineInfo
    public let loadAfter: String
    public let command: String

    public init(results: SuiteResults, machine: MachineInfo, loadAfter: String, command: String) {
        self.results = results; self.machine = machine; self.loadAfter = loadAfter; self.command = command
    }

    private func lifecycle(_ workers: Int, next: Bool) -> LifecycleResult? {
        results.lifecycle.first { $0.workers == workers && $0.claimNext == next }
    }
    private func echo(_ workers: Int) -> EchoBench.Result? { results.echo.first { $0.clients == workers } }
    private func beanstalk(_ workers: Int, fsync: Int) -> LifecycleResult? { results.beanstalk[fsync]?.first { $0.workers == workers } }
    private var workerCounts: [Int] { Array(Set(results.lifecycle.map(\.workers))).sorted() }
    private var fsyncModes: [Int] { results.beanstalk.keys.sorted() }

    public func render() -> String {
        var out: [String] = []
        out.append("## kanban-bench run of \(machine.date)")
        out.append("")
        out.append("- machine: \(machine.cores) cores, \(machine.cpuModel), Linux \(machine.kernel), libzmq \(zmqVersion())")
        out.append("- load average (1/5/15 min) at start: \(machine.loadAverage); at end: \(loadAfter)"
                   + " (anything near or above \(machine.cores) means other work shared the CPUs and the numbers are noisy)")
        out.append("- command: `\(command)`")
        out.append("- every kanban reply is durable: sent after its transaction committed (WAL, synchronous=FULL); requests carry a request_id")
        out.append("- claim request \(results.claimRequestBytes) B, claim reply \(results.claimReplyBytes) B (the echo server moves the same sizes)")
        out.append("")
        out.append(contentsOf: throughputTable())
        out.append(contentsOf: latencyTable())
        out.append(contentsOf: eventTable())
        out.append(contentsOf: scalingTable())
        out.append(contentsOf: targetTable())
        return out.joined(separator: "\n")
    }

    private func throughputTable() -> [String] {
        var header = "| workers | kanban claim→complete tasks/s | kanban claim_next tasks/s |"
        var rule = "| ---: | ---: | ---: |"
        for f in fsyncModes { header += " beanstalkd -f \(f) jobs/s |"; rule += " ---: |" }
        header += " zeromq echo round trips/s | best kanban ÷ beanstalkd |"
        rule += " ---: | --- |"
        var rows = ["### Lifecycle throughput (claim → complete until the board is empty)", "", header, rule]
        for n in workerCounts {
            let plain = lifecycle(n, next: false), next = lifecycle(n, next: true)
            let best = max(plain?.tasksPerSecond ?? 0, next?.tasksPerSecond ?? 0)
            var row = "| \(n) | \(Format.rate(plain?.tasksPerSecond)) | \(Format.rate(next?.tasksPerSecond)) |"
            for f in fsyncModes { row += " \(Format.rate(beanstalk(n, fsync: f)?.tasksPerSecond)) |" }
            let ratios = fsyncModes.map { f in "\(Format.ratio(beanstalk(n, fsync: f).map { best / $0.tasksPerSecond })) (-f \(f))" }
            row += " \(Format.rate(echo(n)?.roundTripsPerSecond)) | \(ratios.isEmpty ? "-" : ratios.joined(separator: ", ")) |"
            rows.append(row)
        }
        if let missing = results.beanstalkMissing { rows.append(""); rows.append("beanstalkd: \(missing)") }
        rows.append("")
        rows.append("claim→complete takes two round trips per task, claim_next one. beanstalkd `-f 0` fsyncs every binlog write "
                    + "(every acknowledgement durable, as here); `-f 50` is its default (fsync at most every 50 ms: up to 50 ms of "
                    + "acknowledged work can be lost).")
        rows.append("")
        return rows
    }

    private func latencyTable() -> [String] {
        var rows = ["### Latency under load (ms)", "",
                    "| workers | claim p50 | claim p99 | claim p99.9 | complete+claim_next p50 | p99 | heartbeat p50 | heartbeat p99 | echo p50 | echo p99 | beanstalkd -f 0 reserve p50 | p99 | claim p50 ÷ echo p50 |",
                    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for n in workerCounts {
            let c = lifecycle(n, next: false)?.claimLatency, x = lifecycle(n, next: true)?.claimLatency
            let h = lifecycle(n, next: false)?.heartbeatLatency, e = echo(n)?.latency, b = beanstalk(n, fsync: 0)?.claimLatency
            let ratio = (c != nil && e != nil) ? Double(c!.p50) / Double(e!.p50) : nil
            rows.append("| \(n) | \(Format.ms(c?.p50)) | \(Format.ms(c?.p99)) | \(Format.ms(c?.p999)) | \(Format.ms(x?.p50)) | \(Format.ms(x?.p99)) | "
                        + "\(Format.ms(h?.p50)) | \(Format.ms(h?.p99)) | \(Format.ms(e?.p50)) | \(Format.ms(e?.p99)) | "
                        + "\(Format.ms(b?.p50)) | \(Format.ms(b?.p99)) | \(Format.ratio(ratio)) |")
        }
        rows.append("")
        rows.append("Heartbeats come from a separate lane's worker, one every 5 ms, while the N workers run (claim→complete runs).")
        rows.append("")
        return rows
    }

    private func eventTable() -> [String] {
        guard let e = results.events else { return [] }
        return ["### Event latency", "",
                "| subscribers | events | commit → SUB receive p50 | p99 | request sent → SUB receive p50 | p99 | missed |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
                "| \(e.subscribers) | \(e.events) | \(Format.ms(e.commitToReceive?.p50)) | \(Format.ms(e.commitToReceive?.p99)) | "
                    + "\(Format.ms(e.requestToReceive?.p50)) | \(Format.ms(e.requestToReceive?.p99)) | \(e.missed) |",
                "",
                "Commit time is taken as the arrival of the heartbeat's reply, which the coordinator sends right after the COMMIT "
                    + "and before publishing; \"request sent\" includes the whole durable round trip.",
                ""]
    }

    private func scalingTable() -> [String] {
        var rows = ["### Scaling: one worker's claim latency by ready tasks on the board", "",
                    "| ready tasks | bulk load s | claim p50 | claim p99 | claim p99.9 | p50 ÷ smallest board's | coordinator peak RSS |",
                    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        let base = results.scaling.first?.claimLatency?.p50
        for s in results.scaling {
            let ratio = (base != nil && s.claimLatency != nil) ? Double(s.claimLatency!.p50) / Double(base!) : nil
            rows.append("| \(s.readyTasks) | \(String(format: "%.1f", s.loadSeconds)) | \(Format.ms(s.claimLatency?.p50)) | "
                        + "\(Format.ms(s.claimLatency?.p99)) | \(Format.ms(s.claimLatency?.p999)) | \(Format.ratio(ratio)) | \(Format.mib(s.peakRSSKiB)) |")
        }
        if let plan = results.scaling.last?.queryPlan { rows.append(""); rows.append("Claim query plan: `\(plan)`") }
        rows.append("")
        return rows
    }

    /// The issue's targets (for two cores), each with what this run measured.
    public func targets() -> [(target: String, measured: String, met: Bool?)] {
        var list: [(String, String, Bool?)] = []
        if let n8 = [lifecycle(8, next: false), lifecycle(8, next: true)].compactMap({ $0 }).max(by: { $0.tasksPerSecond < $1.tasksPerSecond }) {
            if let b = beanstalk(8, fsync: 0) {
                let r = n8.tasksPerSecond / b.tasksPerSecond
                list.append(("8 workers: tasks/s ≥ 1.2× beanstalkd -f 0 (durable)", Format.ratio(r), r >= 1.2))
            }
            if let b = beanstalk(8, fsync: 50) {
                let r = n8.tasksPerSecond / b.tasksPerSecond
                list.append(("8 workers: tasks/s ≥ 1.2× beanstalkd -f 50 (its default)", Format.ratio(r), r >= 1.2))
            }
        }
        if let c = lifecycle(1, next: false)?.claimLatency, let e = echo(1)?.latency {
            let r = Double(c.p50) / Double(e.p50)
            list.append(("1 worker: claim round trip ≤ 1.3× zeromq echo (p50)", Format.ratio(r), r <= 1.3))
        }
        if let c = lifecycle(32, next: false)?.claimLatency {
            list.append(("32 workers: claim p99 < 5 ms", Format.ms(c.p99) + " ms", c.p99 < 5_000_000))
        }
        if let e = results.events?.commitToReceive {
            list.append(("event latency p99 < 2 ms (10 subscribers)", Format.ms(e.p99) + " ms", e.p99 < 2_000_000))
        }
        if let small = results.scaling.first, let big = results.scaling.last, results.scaling.count > 1,
           let a = small.claimLatency, let b = big.claimLatency {
            let r = Double(b.p50) / Double(a.p50)
            list.append(("claim p50 at \(big.readyTasks) ready ≤ 1.5× at \(small.readyTasks)", Format.ratio(r), r <= 1.5))
        }
        if let big = results.scaling.last, let rss = big.peakRSSKiB {
            list.append(("peak RSS at \(big.readyTasks) tasks < 100 MB", Format.mib(rss), rss * 1024 < 100_000_000))
        }
        return list
    }

    private func targetTable() -> [String] {
        var rows = ["### Targets", "", "| target | measured | met |", "| --- | ---: | --- |"]
        for t in targets() { rows.append("| \(t.target) | \(t.measured) | \(t.met.map { $0 ? "yes" : "**no**" } ?? "-") |") }
        rows.append("")
        return rows
    }
}
