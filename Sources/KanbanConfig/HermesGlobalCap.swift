import Foundation

/// Hermes' host-wide cap on running tasks (`kanban.max_in_progress`) as its dispatcher applies it.
///
/// Hermes 0.19 has no cap when the key is unset. Hermes 0.21 and later derive one then:
/// `clamp(MemTotal / 512 MiB, 2, 8)` (`derive_default_max_in_progress` and `resolve_max_in_progress`
/// in hermes_cli/kanban_db_dispatch.py), none when the memory is unknown. Either way the cap counts
/// every `running` task on every board of the host, lanes' claims included, so lanes can use up all
/// of it and leave Hermes' own dispatcher spawning nothing, silently.
public struct HermesGlobalCap: Equatable, Sendable {
    public enum Origin: Equatable, Sendable {
        /// `kanban.max_in_progress` is set: every Hermes version applies it.
        case configured
        /// Unset: Hermes 0.21+ derives the value from the host's memory; 0.19 applies none.
        case derived(memTotalMiB: Int)
        /// Unset and the memory is unknown: no Hermes version applies a cap.
        case none
    }

    /// The cap Hermes 0.21+ applies; nil when it applies none.
    public var value: Int?
    public var origin: Origin

    public init(value: Int?, origin: Origin) { self.value = value; self.origin = origin }

    /// Hermes' constants (MEMORY_GUARD_MB_PER_WORKER, DERIVED_MAX_IN_PROGRESS_FLOOR/CEILING).
    public static let mibPerWorker = 512, floor = 2, ceiling = 8

    /// Hermes' `derive_default_max_in_progress`: whole MiB of MemTotal over 512, clamped to 2...8.
    public static func derived(memTotalKiB: Int?) -> Int? {
        guard let kib = memTotalKiB, kib > 0 else { return nil }
        return max(floor, min((kib / 1024) / mibPerWorker, ceiling))
    }

    /// Hermes' `resolve_max_in_progress`: the configured value wins, else the derived one.
    public static func effective(configured: Int?, memTotalKiB: Int?) -> HermesGlobalCap {
        if let configured { return HermesGlobalCap(value: configured, origin: .configured) }
        guard let value = derived(memTotalKiB: memTotalKiB), let kib = memTotalKiB else { return HermesGlobalCap(value: nil, origin: .none) }
        return HermesGlobalCap(value: value, origin: .derived(memTotalMiB: kib / 1024))
    }

    /// `MemTotal` in KiB from the text of /proc/meminfo; nil when absent.
    public static func memTotalKiB(meminfo: String) -> Int? {
        for line in meminfo.split(separator: "\n") where line.hasPrefix("MemTotal:") {
            return line.dropFirst("MemTotal:".count).split(separator: " ").first.flatMap { Int($0) }
        }
        return nil
    }

    /// This host's MemTotal (Linux), nil elsewhere, as Hermes reads it.
    public static func hostMemTotalKiB() -> Int? {
        (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)).flatMap(memTotalKiB(meminfo:))
    }

    /// One phrase: the cap and where it comes from, for both Hermes lines.
    public var summary: String {
        switch origin {
        case .configured:
            return "\(value ?? 0) (kanban.max_in_progress)"
        case .derived(let mib):
            return "\(value ?? 0) for Hermes 0.21+ (kanban.max_in_progress unset: derived from MemTotal \(mib) MiB as "
                + "clamp(\(mib)/\(Self.mibPerWorker), \(Self.floor), \(Self.ceiling))); Hermes 0.19 applies no cap when it is unset"
        case .none:
            return "none (kanban.max_in_progress unset and the host's memory unknown)"
        }
    }

    /// How lanes share this cap, or nil when Hermes applies none.
    /// - Parameters:
    ///   - laneClaims: running tasks that bridge lanes hold now (they use up Hermes' slots too).
    ///   - running: every running task on the board (Hermes counts other boards of the host as well).
    ///   - lanesMaxConcurrency: the sum of the lanes' max_concurrency: how many slots lanes can take.
    public func share(laneClaims: Int, running: Int, lanesMaxConcurrency: Int) -> LaneCapShare? {
        value.map { LaneCapShare(cap: $0, laneClaims: laneClaims, running: running, lanesMaxConcurrency: lanesMaxConcurrency) }
    }
}

/// What bridge lanes take of Hermes' global cap. Pure, for `doctor`, `stats` and the console.
public struct LaneCapShare: Equatable, Sendable {
    public var cap: Int
    public var laneClaims: Int
    public var running: Int
    public var lanesMaxConcurrency: Int

    public init(cap: Int, laneClaims: Int, running: Int, lanesMaxConcurrency: Int) {
        self.cap = cap; self.laneClaims = laneClaims; self.running = running; self.lanesMaxConcurrency = lanesMaxConcurrency
    }

    /// Hermes spawns nothing now: the board alone already runs `cap` tasks.
    public var full: Bool { running >= cap }
    /// Busy lanes can take every slot, so Hermes' own dispatcher may spawn nothing for as long.
    public var lanesCanStarveHermes: Bool { lanesMaxConcurrency >= cap }

    /// "lanes hold 3 of its 8 slots (6 tasks running on this board)".
    public var held: String { "lanes hold \(laneClaims) of its \(cap) slots (\(running) task(s) running on this board)" }

    /// What to change so Hermes keeps a slot, naming the setting: above what lanes can take.
    public func advice(hermesHome home: String) -> String {
        "set kanban.max_in_progress in \(home)/config.yaml to at least \(lanesMaxConcurrency + 1), "
            + "or lower the lanes' max_concurrency (sum \(lanesMaxConcurrency)) with `kanban-bridge lanes update`"
    }
}
