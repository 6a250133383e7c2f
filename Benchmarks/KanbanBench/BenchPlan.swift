import Foundation

/// What a run measures and how big. `quick` fits in about two minutes on two cores; `full` is the
/// documented run behind docs/PERFORMANCE.md.
public struct BenchPlan: Sendable, Equatable {
    /// Worker counts for the lifecycle, echo and beanstalkd runs.
    public var workers: [Int]
    /// Tasks preloaded for each lifecycle run (and jobs for each beanstalkd run).
    public var tasks: Int
    /// A lifecycle run stops after this long even if tasks remain.
    public var maxSeconds: Double
    /// Ready tasks on the board for the scaling runs.
    public var scalingSizes: [Int]
    /// claim → complete round trips timed at each scaling size.
    public var scalingClaims: Int
    public var subscribers: Int
    public var events: Int
    public var echoSeconds: Double
    /// beanstalkd `-f` values to compare with (0: fsync every write, as durable as the coordinator).
    public var beanstalkFsyncMs: [Int]

    public static let quick = BenchPlan(workers: [1, 8, 32], tasks: 3000, maxSeconds: 6, scalingSizes: [1_000, 100_000, 1_000_000],
                                        scalingClaims: 500, subscribers: 10, events: 500, echoSeconds: 1.5,
                                        beanstalkFsyncMs: [0, 50])
    public static let full = BenchPlan(workers: [1, 8, 32], tasks: 20_000, maxSeconds: 30, scalingSizes: [1_000, 100_000, 1_000_000],
                                       scalingClaims: 3_000, subscribers: 10, events: 3_000, echoSeconds: 5,
                                       beanstalkFsyncMs: [0, 50])

    /// Parses a comma-separated list of sizes; `k` and `m` suffixes multiply by 1,000 and 1,000,000.
    public static func parseSizes(_ text: String) throws -> [Int] {
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard !items.isEmpty else { throw BenchError("empty list") }
        return try items.map { item in
            var digits = Substring(item)
            var scale = 1
            if digits.hasSuffix("k") { scale = 1_000; digits = digits.dropLast() }
            else if digits.hasSuffix("m") { scale = 1_000_000; digits = digits.dropLast() }
            guard let n = Int(digits), n >= 0 else { throw BenchError("'\(item)' is not a size (e.g. 1000, 100k, 1m)") }
            return n * scale
        }
    }
}
