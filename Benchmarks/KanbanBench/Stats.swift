import Dispatch

/// Monotonic nanoseconds, for timing round trips.
@inline(__always) public func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// Latencies in nanoseconds and their percentiles (nearest rank on a sorted copy: exact, and cheap
/// enough for the few hundred thousand samples a run takes).
public struct Latencies: Sendable {
    public private(set) var samples: [UInt64] = []
    public init(_ samples: [UInt64] = []) { self.samples = samples }

    public mutating func add(_ ns: UInt64) { samples.append(ns) }
    public mutating func add(contentsOf other: Latencies) { samples.append(contentsOf: other.samples) }
    public var count: Int { samples.count }

    /// The sorted samples' summary; nil when there are none.
    public func summary() -> LatencySummary? { LatencySummary(samples) }
}

/// Percentiles of one set of latencies, in nanoseconds.
public struct LatencySummary: Sendable, Equatable {
    public let count: Int
    public let p50: UInt64
    public let p99: UInt64
    public let p999: UInt64
    public let max: UInt64
    public let mean: Double

    public init?(_ samples: [UInt64]) {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        count = sorted.count
        p50 = Self.percentile(sorted, 50)
        p99 = Self.percentile(sorted, 99)
        p999 = Self.percentile(sorted, 99.9)
        max = sorted[sorted.count - 1]
        mean = Double(sorted.reduce(0, +)) / Double(sorted.count)
    }

    /// Nearest-rank percentile: the smallest sample with at least `p`% of the samples at or below it.
    public static func percentile(_ sorted: [UInt64], _ p: Double) -> UInt64 {
        precondition(!sorted.isEmpty && p > 0 && p <= 100)
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(1, Swift.min(rank, sorted.count)) - 1]
    }
}

/// Formatting for the report: milliseconds with enough digits for loopback latencies.
public enum Format {
    public static func ms(_ ns: UInt64?) -> String {
        guard let ns else { return "-" }
        let ms = Double(ns) / 1_000_000
        if ms < 1 { return String(format: "%.3f", ms) }
        if ms < 100 { return String(format: "%.2f", ms) }
        return String(format: "%.0f", ms)
    }

    public static func rate(_ perSecond: Double?) -> String {
        guard let perSecond, perSecond.isFinite else { return "-" }
        return String(format: "%.0f", perSecond)
    }

    public static func ratio(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "-" }
        return String(format: "%.2fx", x)
    }

    public static func mib(_ kib: Int?) -> String {
        guard let kib else { return "-" }
        return String(format: "%.1f MiB", Double(kib) / 1024)
    }
}
